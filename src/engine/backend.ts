import fs from 'node:fs';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { usage } from '../util/errors.ts';
import { cudaGpuVisible, isInstalled, NATIVE_PACKAGE, startNative } from './backends/native.ts';
import { MAX_WASM_THREADS, startWasm } from './backends/wasm.ts';
import { type AdapterInfo, probeWebGpu, startWebGpu, stopWebGpu } from './backends/webgpu.ts';
import { registerSecondOrderGradients } from './gradients/index.ts';
import { stopSimdKernels } from './kernels/wasm/simd-kernels.ts';
import { registerProjectKernels } from './kernels/register.ts';

export const BACKEND_CHOICES = ['auto', 'tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
export type ConcreteBackend = Exclude<BackendChoice, 'auto'>;
export type { AdapterInfo };
export { webGpuDeviceErrors } from './backends/webgpu.ts';

export interface BackendInfo {
  /** What the user asked for (after PIPELINE_BACKEND / default resolution). */
  requested: BackendChoice;
  /** The backend actually running. */
  name: ConcreteBackend;
  /** tfjs's own backend name (tensorflow-gpu and tensorflow both register 'tensorflow'). */
  tfjsBackend: string;
  tfjsVersion: string;
  /** CPU threads the backend computes with (null: managed by the native library or the GPU). */
  threads: number | null;
  simd?: boolean;
  /** wasm: threads of tfjs's XNNPACK pool (backends/wasm.ts: one by default beside the project's kernels). */
  xnnpackThreads?: number;
  /** wasm: whether the project's own SIMD kernels run (else tfjs's and the composed ones). */
  ownKernels?: boolean;
  /** webgpu: the adapter Dawn runs on. */
  adapter?: AdapterInfo;
  /** Why the backend runs with less than was asked for (one line), if so. */
  note?: string;
}

export interface BackendOptions {
  /** --threads / PIPELINE_THREADS (a positive integer). Default: all cores ÷ workers. */
  threads?: string | number;
  /** Processes sharing this machine (worker pools), for the default thread count. */
  workers?: number;
}

let active: BackendInfo | undefined;

export function parseBackendChoice(value: string | undefined): BackendChoice {
  const v = (value ?? process.env.PIPELINE_BACKEND ?? 'auto').trim();
  if (!(BACKEND_CHOICES as readonly string[]).includes(v)) {
    usage(`unknown backend '${v}': choose one of ${BACKEND_CHOICES.join(', ')}`);
  }
  return v as BackendChoice;
}

export function cpuCores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Threads asked for: the flag, else PIPELINE_THREADS, else cores ÷ workers (1 to 8). */
export function parseThreads({ threads, workers = 1 }: BackendOptions = {}): number {
  const raw = threads ?? process.env.PIPELINE_THREADS;
  if (raw === undefined || raw === '') return Math.min(MAX_WASM_THREADS, Math.max(1, Math.floor(cpuCores() / Math.max(1, workers))));
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) usage(`--threads must be a positive integer, got '${raw}' (or unset PIPELINE_THREADS)`);
  return n;
}

/**
 * A hardware GPU shows up as a DRM render node or an NVIDIA device file. Without one, Dawn could only
 * offer a software adapter, which auto never picks, so it is not even loaded (it prints driver
 * warnings on start-up).
 */
function gpuDeviceFiles(): boolean {
  const has = (dir: string, re: RegExp) => {
    try {
      return fs.readdirSync(dir).some((f) => re.test(f));
    } catch {
      return false;
    }
  };
  return has('/dev/dri', /^renderD\d+$/) || has('/dev', /^nvidia\d+$/);
}

async function resolveAuto(): Promise<ConcreteBackend> {
  if (isInstalled(NATIVE_PACKAGE['tensorflow-gpu']) && cudaGpuVisible()) return 'tensorflow-gpu';
  const adapter = gpuDeviceFiles() ? await probeWebGpu() : 'no GPU device files';
  if (typeof adapter !== 'string' && !adapter.software) return 'webgpu';
  if (isInstalled(NATIVE_PACKAGE.tensorflow)) return 'tensorflow';
  return 'wasm';
}

/**
 * Selects and initializes the compute backend (once per process) and registers the project's
 * kernels and gradients. Calling again with the same choice is a no-op.
 */
export async function initBackend(choice?: string, options: BackendOptions = {}): Promise<BackendInfo> {
  const requested = parseBackendChoice(choice);
  const threads = parseThreads(options);
  const name = requested === 'auto' ? await resolveAuto() : requested;
  if (active && active.name === name) return active;
  tf.enableProdMode(); // no debug checks; also silences tfjs's console banners
  registerSecondOrderGradients();
  let extra: Partial<BackendInfo> = { threads: null };
  if (name === 'tensorflow' || name === 'tensorflow-gpu') await startNative(name);
  else if (name === 'webgpu') extra = { threads: null, adapter: await startWebGpu() };
  else if (name === 'wasm') {
    if (threads > MAX_WASM_THREADS)
      usage(`--threads ${threads} is more than the wasm backend's pool of ${MAX_WASM_THREADS}: pass --threads ${MAX_WASM_THREADS} or fewer`);
    extra = await startWasm(threads);
    if (extra.note && process.env.PIPELINE_QUIET !== '1') process.stderr.write(`pipeline: note: ${extra.note}\n`);
  } else {
    await tf.setBackend('cpu');
    extra = { threads: 1 };
  }
  registerProjectKernels(tf.getBackend());
  applyTfjsFlags(process.env.PIPELINE_TFJS_FLAGS);
  await tf.ready();
  active = { requested, name, tfjsBackend: tf.getBackend(), tfjsVersion: tf.version.tfjs, threads: null, ...extra };
  return active;
}

/**
 * PIPELINE_TFJS_FLAGS="NAME=value,…" sets tfjs environment flags once the backend runs (tuning knobs
 * such as WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE); values are numbers, true or false.
 */
export function applyTfjsFlags(spec: string | undefined): void {
  if (!spec) return;
  for (const item of spec
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const [name, raw] = item.split('=');
    if (!name || raw === undefined) usage(`PIPELINE_TFJS_FLAGS: '${item}' is not NAME=value`);
    try {
      tf.env().get(name); // throws for a flag tfjs never registered
    } catch {
      usage(`PIPELINE_TFJS_FLAGS: tfjs has no flag '${name}' on this backend`);
    }
    const value = raw === 'true' ? true : raw === 'false' ? false : Number(raw);
    if (typeof value === 'number' && !Number.isFinite(value)) usage(`PIPELINE_TFJS_FLAGS: ${name}=${raw} is not a number, true or false`);
    tf.env().set(name, value);
  }
}

export function activeBackend(): BackendInfo {
  if (!active) throw new Error('initBackend() has not been called');
  return active;
}

/**
 * Releases what keeps the event loop alive (wasm's pthread workers, Dawn's device), so a process
 * ends by itself once its work is done.
 */
export function shutdownBackend(): void {
  // Also after a failed start (active unset): a started thread pool or GPU device must not outlive it.
  stopWebGpu();
  if (tf.findBackend('wasm') && (active === undefined || active.name === 'wasm')) {
    stopSimdKernels();
    tf.removeBackend('wasm');
  }
  active = undefined;
}
