import { describe, expect, it } from 'vitest';
import { WasmKernelPool } from '../../src/engine/backends/wasm-pool.ts';

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
      const pool = await WasmKernelPool.start(memory, SOURCE, threads);
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

    it(`${threads} thread(s): a block that traps fails the call (wherever it ran), and the next call runs normally`, async () => {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
      const pool = await WasmKernelPool.start(memory, SOURCE, threads);
      try {
        const counts = new Int32Array(memory.buffer, 0, 4096);
        for (const trapAt of [0, 1500, 2999]) expect(() => pool.run('count', [0, trapAt], 3000, 10)).toThrow(/wasm kernel 'count' failed/);
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
