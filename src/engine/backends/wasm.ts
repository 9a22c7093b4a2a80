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
  simd: boolean;
  /** Whether the project's own SIMD kernels (kernels/wasm/simd-kernels.ts) run, on as many threads. */
  ownKernels: boolean;
  /** Why fewer threads run than were asked for (one line), if so. */
  note?: string;
}

/**
 * Starts tfjs's wasm backend with `threads` XNNPACK threads, falling back to one thread (with a note,
 * never an error) where threads cannot start.
 */
export async function startWasm(threads: number): Promise<WasmStart> {
  const started = await startTfjsWasm(threads);
  const kernelNote = await startSimdKernels(started.threads);
  if (kernelNote === undefined) return { ...started, ownKernels: true };
  return { ...started, ownKernels: false, note: [started.note, `${kernelNote}: using tfjs's and the composed kernels`].filter(Boolean).join('; ') };
}

async function startTfjsWasm(threads: number): Promise<Omit<WasmStart, 'ownKernels'>> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (tf.findBackend('wasm')) {
    // Started earlier in this process (tests switch backends): its thread pool is fixed by then.
    await tf.setBackend('wasm');
    return { threads: wasm.getThreadsCount(), simd: simd() };
  }
  wasm.setWasmPaths(process.env.PIPELINE_WASM_DIR ?? path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);
  let note: string | undefined;
  if (threads > 1) {
    const prepared = prepareWasmThreads(threads);
    if ('reason' in prepared) note = prepared.reason;
    else {
      wasm.setThreadsCount(threads);
      const ok = await tf.setBackend('wasm').catch(() => false);
      prepared.restore();
      if (ok) return { threads: wasm.getThreadsCount(), simd: simd() };
      note = 'the threaded wasm module failed to start';
    }
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm.setThreadsCount(1);
  if (!(await tf.setBackend('wasm'))) usage('the wasm backend failed to initialize: check that @tensorflow/tfjs-backend-wasm is installed (npm ci)');
  return { threads: 1, simd: simd(), ...(note ? { note: `${note}: running wasm on 1 thread` } : {}) };
}

const simd = () => tf.env().getBool('WASM_HAS_SIMD_SUPPORT') as boolean;
