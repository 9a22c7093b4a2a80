import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WasmKernelPool } from '../../src/engine/backends/wasm-pool.ts';
import { assembleWat } from '../../src/engine/kernels/wasm/assemble.mjs';

// Adds 1 to counts[i] for every item i of the block (so an item run twice or never shows), and traps
// on item `trapAt` (−1: never).
const SOURCE = `(module
  (import "env" "memory" (memory 1 16 MEMORY_SHARED))
  (func (export "count") (param $counts i32) (param $trapAt i32) (param $from i32) (param $to i32)
    (local $i i32) (local $a i32)
    (local.set $i (local.get $from))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $to)))
      (if (i32.eq (local.get $i) (local.get $trapAt)) (then unreachable))
      (local.set $a (i32.add (local.get $counts) (i32.shl (local.get $i) (i32.const 2))))
      (i32.atomic.rmw.add (local.get $a) (i32.const 1))
      drop
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))
)`;

describe('wasm kernel pool', () => {
  for (const threads of [1, 2, 3]) {
    it(`${threads} thread(s): every item of every call runs exactly once, over 2,000 calls of varying size`, async () => {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
      const pool = await WasmKernelPool.start(memory, (shared) => assembleWat(SOURCE, shared), threads);
      try {
        expect(pool.threads).toBe(threads);
        // Calls alternate between two count arrays, so a thread that ran a block with an earlier
        // call's arguments would show up as counts in the other array.
        const counts = new Int32Array(memory.buffer, 0, 8192);
        for (let call = 0; call < 2000; call++) {
          const items = 1 + ((call * 7919) % 4000);
          const region = call % 2;
          counts.fill(0);
          pool.run('count', [region * 4096 * 4, -1], items, 1 + (call % 5));
          let wrong = 0;
          for (let i = 0; i < 8192; i++) if (counts[i] !== (i >= region * 4096 && i < region * 4096 + items ? 1 : 0)) wrong++;
          if (wrong) throw new Error(`call ${call} (${items} items): ${wrong} items ran a wrong number of times`);
        }
      } finally {
        pool.stop();
      }
    });

    it(`${threads} thread(s): back-to-back calls (no host work between them) each run their own items once`, async () => {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
      const pool = await WasmKernelPool.start(memory, (shared) => assembleWat(SOURCE, shared), threads);
      try {
        // A call of a few blocks, then at once one of many, as a conv's padding, packing and product
        // follow each other: a helper still leaving the first call's claim loop must not take a block
        // of the second with the first's arguments (it showed as extra counts in region 0 in ~1 group
        // of 10 at 2 threads before the claim word was closed while a call is set up).
        const counts = new Int32Array(memory.buffer, 0, 8192);
        const want = new Int32Array(8192);
        for (let k = 0; k < 8; k++) {
          for (let i = 0; i < 2 + (k % 3); i++) want[i]++;
          for (let i = 0; i < 64; i++) want[4096 + i]++;
        }
        let wrongGroups = 0;
        for (let group = 0; group < 10_000; group++) {
          counts.fill(0);
          for (let k = 0; k < 8; k++) {
            pool.run('count', [0, -1], 2 + (k % 3), 1);
            pool.run('count', [4096 * 4, -1], 64, 1);
          }
          if (counts.some((c, i) => c !== want[i])) wrongGroups++;
        }
        expect(wrongGroups).toBe(0);
      } finally {
        pool.stop();
      }
    });

    it(`${threads} thread(s): a block that traps fails the call with the trap's message (wherever it ran), and the next call runs normally`, async () => {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
      const pool = await WasmKernelPool.start(memory, (shared) => assembleWat(SOURCE, shared), threads);
      try {
        const counts = new Int32Array(memory.buffer, 0, 4096);
        for (const trapAt of [0, 1500, 2999]) expect(() => pool.run('count', [0, trapAt], 3000, 10)).toThrow(/^wasm kernel 'count' failed: unreachable$/);
        counts.fill(0);
        pool.run('count', [0, -1], 3000, 10);
        expect(counts.subarray(0, 3000).every((c) => c === 1)).toBe(true);
        expect(() => pool.run('nosuch', [], 1)).toThrow(/no export 'nosuch'/);
      } finally {
        pool.stop();
      }
    });
  }
});

describe('the wasm kernels built ahead of time', () => {
  it('the build holds exactly what assembling the kernels now gives, and the engine loads the build', async () => {
    const { kernelBinary } = await import('../../src/engine/kernels/wasm/simd-kernels.ts');
    const { kernelSource } = await import('../../src/engine/kernels/wasm/assemble.mjs');
    const dir = new URL('../../src/engine/kernels/wasm/generated/', import.meta.url);
    for (const shared of [false, true]) {
      const built = fs.readFileSync(new URL(`kernels${shared ? '.shared' : ''}.wasm`, dir)); // npm ci / npm run build makes it
      expect(Buffer.from(await assembleWat(kernelSource(), shared)).equals(built)).toBe(true);
      expect(Buffer.from(await kernelBinary(shared)).equals(built)).toBe(true);
    }
    // The two differ only in the memory import's shared flag.
    expect(WebAssembly.Module.imports(new WebAssembly.Module(await kernelBinary(true)))).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
  });
});
