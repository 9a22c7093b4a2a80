// @ts-check
/**
 * The project's wasm kernels as one module, from their WebAssembly text: shared by the build
 * (scripts/build.mjs writes generated/kernels[.shared].wasm) and the engine (simd-kernels.ts, which
 * assembles only when a .wat is newer than the build). Plain JavaScript so the build script can load it.
 */
import fs from 'node:fs';

/** The kernel files (kernels.json), in module order. */
export const KERNEL_FILES = /** @type {{ files: string[] }} */ (JSON.parse(fs.readFileSync(new URL('./kernels.json', import.meta.url), 'utf8'))).files;

/** Every kernel file as functions of one module importing the heap; `MEMORY_SHARED` marks where `shared` goes. */
export function kernelSource() {
  const body = KERNEL_FILES.map((f) => fs.readFileSync(new URL(`./${f}`, import.meta.url), 'utf8')).join('\n');
  return `(module\n  (import "env" "memory" (memory 1 65536 MEMORY_SHARED))\n${body})`;
}

/**
 * Assembles WebAssembly text whose memory import says `MEMORY_SHARED` where `shared` goes when the
 * memory is shared.
 * @param {string} source
 * @param {boolean} shared
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function assembleWat(source, shared) {
  const wabt = await (await import('wabt')).default();
  const parsed = wabt.parseWat('kernels.wat', source.replace('MEMORY_SHARED', shared ? 'shared' : ''), { simd: true, threads: true });
  try {
    return new Uint8Array(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}
