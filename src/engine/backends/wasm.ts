import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { usage } from '../../util/errors.ts';
import { startSimdKernels } from '../kernels/wasm/simd-kernels.ts';
import { prepareWasmThreads } from './wasm-threads.ts';

const require = createRequire(import.meta.url);

/** XNNPACK's pthread pool in tfjs 4.22's threaded build has 8 workers. */
export const MAX_WASM_THREADS = 8;

export interface WasmStart {
  threads: number;
  /** Threads of tfjs's own XNNPACK pool (the kernels the project does not replace). */
  xnnpackThreads: number;
  simd: boolean;
  /** Whether the project's own SIMD kernels (kernels/wasm/simd-kernels.ts) run, on as many threads. */
  ownKernels: boolean;
  /** Why fewer threads run than were asked for (one line), if so. */
  note?: string;
}

/**
 * XNNPACK's threads by default: one. The project's kernels (simd-kernels.ts) take every convolution,
 * batch norm and optimizer step on their own pool of `threads`; what stays with XNNPACK (adds, ReLU,
 * small products) gains little from a second thread, and its pool keeps its workers spinning for ~2
 * ms after each call, on the cores the project's pool needs (resnet18 w16 train step at 2 threads:
 * 141–144 ms with one XNNPACK thread, 150–157 with two; vgg11 w8: 19 vs 21–24 ms). The cost: models
 * made only of products (lenet300) lose their 2-thread gain. PIPELINE_XNNPACK_THREADS overrides it.
 */
function xnnpackThreadsFor(threads: number): number {
  const raw = process.env.PIPELINE_XNNPACK_THREADS;
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) usage(`PIPELINE_XNNPACK_THREADS must be a positive integer, got '${raw}' (or unset it)`);
  return Math.min(n, threads);
}

/**
 * Starts tfjs's wasm backend (its threaded build when `threads` > 1) and the project's kernels on
 * `threads` threads, falling back to one thread (with a note, never an error) where threads cannot start.
 */
export async function startWasm(threads: number): Promise<WasmStart> {
  const started = await startTfjsWasm(threads);
  const kernelNote = await startSimdKernels(started.threads);
  if (kernelNote === undefined) return { ...started, ownKernels: true };
  const note = [
    started.note,
    `${kernelNote}: using tfjs's and the composed kernels`,
    started.threads > started.xnnpackThreads ? `running wasm on ${started.xnnpackThreads} thread(s)` : undefined,
  ];
  return { ...started, threads: started.xnnpackThreads, ownKernels: false, note: note.filter(Boolean).join('; ') };
}

async function startTfjsWasm(threads: number): Promise<Omit<WasmStart, 'ownKernels'>> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (tf.findBackend('wasm')) {
    // Started earlier in this process (tests switch backends): its thread pools are fixed by then.
    await tf.setBackend('wasm');
    return { threads: startedThreads, xnnpackThreads: wasm.getThreadsCount(), simd: simd() };
  }
  wasm.setWasmPaths(process.env.PIPELINE_WASM_DIR ?? path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);
  let note: string | undefined;
  const xnnpackThreads = xnnpackThreadsFor(threads);
  if (threads > 1) {
    const prepared = prepareWasmThreads(threads);
    if ('reason' in prepared) note = prepared.reason;
    else {
      wasm.setThreadsCount(xnnpackThreads);
      const ok = await tf.setBackend('wasm').catch(() => false);
      prepared.restore();
      if (ok) {
        startedThreads = threads;
        return { threads, xnnpackThreads: wasm.getThreadsCount(), simd: simd() };
      }
      note = 'the threaded wasm module failed to start';
    }
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm.setThreadsCount(1);
  if (!(await tf.setBackend('wasm'))) usage('the wasm backend failed to initialize: check that @tensorflow/tfjs-backend-wasm is installed (npm ci)');
  startedThreads = 1;
  return { threads: 1, xnnpackThreads: 1, simd: simd(), ...(note ? { note: `${note}: running wasm on 1 thread` } : {}) };
}

/** Threads of the first start in this process (the pools cannot change afterwards). */
let startedThreads = 1;

const simd = () => tf.env().getBool('WASM_HAS_SIMD_SUPPORT') as boolean;
