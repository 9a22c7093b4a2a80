import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { WasmKernelPool } from '../../backends/wasm-pool.ts';
import { assembleWat, KERNEL_FILES, kernelSource } from './assemble.mjs';

const here = (f: string) => new URL(`./${f}`, import.meta.url);

/** The built binary, or the text assembled now when there is no build or a .wat is newer than it. */
export async function kernelBinary(shared: boolean): Promise<Uint8Array<ArrayBuffer>> {
  const built = here(`generated/kernels${shared ? '.shared' : ''}.wasm`);
  const builtAt = fs.existsSync(built) ? fs.statSync(built).mtimeMs : -1;
  if (KERNEL_FILES.every((f) => fs.statSync(here(f)).mtimeMs <= builtAt)) return new Uint8Array(fs.readFileSync(built));
  return assembleWat(kernelSource(), shared);
}

/** Below this many elements of one pass over memory a block is not worth handing to another thread. */
export const MIN_ELEMENTS_PER_BLOCK = 1 << 16;

let pool: WasmKernelPool | undefined;

/** tfjs-wasm's heap (its emscripten module keeps it as `wasmMemory` when threaded, else in `asm`). */
function heapMemory(): WebAssembly.Memory | undefined {
  const module = (tf.backend() as unknown as { wasm?: { wasmMemory?: unknown; asm?: { memory?: unknown } } }).wasm;
  const memory = module?.wasmMemory ?? module?.asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : undefined;
}

/**
 * Starts the kernels on the running wasm backend's heap with `threads` threads. Returns why they
 * cannot run (one line) if so; tfjs's and the composed kernels then serve every call.
 */
export async function startSimdKernels(threads: number): Promise<string | undefined> {
  const memory = heapMemory();
  if (memory === undefined) return "the wasm backend's memory is not reachable (a changed tfjs-backend-wasm?)";
  if (pool?.memory === memory && pool.threads === threads) return undefined;
  stopSimdKernels();
  try {
    pool = await WasmKernelPool.start(memory, kernelBinary, threads);
  } catch (err) {
    return `the project's wasm kernels failed to start (${(err as Error).message.split('\n')[0]})`;
  }
  return undefined;
}

export function stopSimdKernels(): void {
  pool?.stop();
  pool = undefined;
}

/** The started kernels, if they run on the current wasm heap. */
export function simdKernels(): WasmKernelPool | undefined {
  return pool !== undefined && heapMemory() === pool.memory ? pool : undefined;
}
