import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { usage } from '../util/errors.ts';
import { registerComposedConvBackprop } from './kernels/conv-backprop.ts';
import { registerHostMaxPoolGrad } from './kernels/max-pool-grad.ts';
import { registerHostBatchNorm } from './kernels/batch-norm.ts';
import { registerSecondOrderGradients } from './gradients/index.ts';

export const BACKEND_CHOICES = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
export type ConcreteBackend = Exclude<BackendChoice, 'auto'>;

export interface BackendInfo {
  /** What the user asked for (after PIPELINE_BACKEND / default resolution). */
  requested: BackendChoice;
  /** The backend actually running. */
  name: ConcreteBackend;
  /** tfjs's own backend name (tensorflow-gpu and tensorflow both register 'tensorflow'). */
  tfjsBackend: string;
  tfjsVersion: string;
  /** Threads the backend computes with (wasm is single-threaded under Node). */
  threads: number | null;
  simd?: boolean;
}

const require = createRequire(import.meta.url);
const NATIVE_PACKAGE: Record<'tensorflow' | 'tensorflow-gpu', string> = {
  tensorflow: '@tensorflow/tfjs-node',
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
};

let active: BackendInfo | undefined;

export function parseBackendChoice(value: string | undefined): BackendChoice {
  const v = (value ?? process.env.PIPELINE_BACKEND ?? 'auto').trim();
  if (!(BACKEND_CHOICES as readonly string[]).includes(v)) {
    usage(`unknown backend '${v}': choose one of ${BACKEND_CHOICES.join(', ')}`);
  }
  return v as BackendChoice;
}

function isInstalled(pkg: string): boolean {
  try {
    require.resolve(`${pkg}/package.json`);
    return true;
  } catch {
    return false;
  }
}

function gpuVisible(): boolean {
  try {
    execFileSync('nvidia-smi', ['-L'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

function resolveAuto(): ConcreteBackend {
  if (isInstalled(NATIVE_PACKAGE['tensorflow-gpu']) && gpuVisible()) return 'tensorflow-gpu';
  if (isInstalled(NATIVE_PACKAGE.tensorflow)) return 'tensorflow';
  return 'wasm';
}

async function activateNative(name: 'tensorflow' | 'tensorflow-gpu'): Promise<void> {
  const pkg = NATIVE_PACKAGE[name];
  if (!isInstalled(pkg)) {
    usage(
      `backend '${name}' is not installed: run 'npm install ${pkg}@4.22.0' on a machine with internet access` +
        `${name === 'tensorflow-gpu' ? ' (needs CUDA 11.2 and cuDNN 8.1)' : ''}, or use --backend wasm`,
    );
  }
  try {
    await import(pkg);
  } catch (err) {
    usage(`backend '${name}' failed to load (${(err as Error).message.split('\n')[0]}): reinstall ${pkg} or use --backend wasm`);
  }
  await tf.setBackend('tensorflow');
}

async function activateWasm(): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const dist = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
  wasm.setWasmPaths(dist);
  if (!(await tf.setBackend('wasm'))) usage('the wasm backend failed to initialize: check that @tensorflow/tfjs-backend-wasm is installed (npm ci)');
  registerComposedConvBackprop('wasm');
  registerHostMaxPoolGrad('wasm');
  registerHostBatchNorm('wasm');
}

/**
 * Selects and initializes the compute backend (once per process) and registers the project's
 * kernels and gradients. Calling again with the same choice is a no-op.
 */
export async function initBackend(choice?: string): Promise<BackendInfo> {
  const requested = parseBackendChoice(choice);
  const name = requested === 'auto' ? resolveAuto() : requested;
  if (active && active.name === name) return active;
  tf.enableProdMode(); // no debug checks; also silences tfjs's console banners
  registerSecondOrderGradients();
  if (name === 'tensorflow' || name === 'tensorflow-gpu') await activateNative(name);
  else if (name === 'wasm') await activateWasm();
  else {
    await tf.setBackend('cpu');
    registerHostBatchNorm('cpu');
  }
  await tf.ready();
  active = {
    requested,
    name,
    tfjsBackend: tf.getBackend(),
    tfjsVersion: tf.version.tfjs,
    threads: name === 'wasm' ? 1 : name === 'cpu' ? 1 : null,
    ...(name === 'wasm' ? { simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT') as boolean } : {}),
  };
  return active;
}

export function activeBackend(): BackendInfo {
  if (!active) throw new Error('initBackend() has not been called');
  return active;
}
