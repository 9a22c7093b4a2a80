import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';
import { onBackend, randn, relErr } from './helpers.ts';

// Shapes on both sides of the size below which the wasm kernel keeps tfjs's own transposed loop.
const matmuls: Array<{ a: number[]; b: number[]; ta: boolean; tb: boolean }> = [
  { a: [64, 300], b: [64, 100], ta: true, tb: false }, // a dense layer's weight gradient xᵀ·dy
  { a: [64, 100], b: [300, 100], ta: false, tb: true }, // its input gradient dy·Wᵀ
  { a: [200, 70], b: [90, 200], ta: true, tb: true },
  { a: [3, 96, 40], b: [3, 96, 50], ta: true, tb: false }, // batched
  { a: [1, 80, 96], b: [4, 70, 96], ta: false, tb: true }, // broadcast batch
  { a: [16, 12], b: [16, 5], ta: true, tb: false }, // small: tfjs's loop
];

describe('wasm BatchMatMul with transposed operands matches the cpu backend', () => {
  for (const [i, c] of matmuls.entries()) {
    it(`${c.a} × ${c.b} transposeA=${c.ta} transposeB=${c.tb}`, async () => {
      const compute = () => tf.matMul(randn(c.a, 10 + i), randn(c.b, 20 + i), c.ta, c.tb);
      const [cpu] = await onBackend('cpu', compute);
      const [wasm] = await onBackend('wasm', compute);
      expect(Math.max(...cpu.map(Math.abs))).toBeGreaterThan(1);
      expect(relErr(wasm, cpu)).toBeLessThan(1e-5);
    });
  }
});

describe('wasm Identity and same-dtype Cast share data by reference count', () => {
  it('a clone outlives its source, a cast to float32 too, and freeing all of them frees the memory', async () => {
    await initBackend('wasm');
    const before = tf.memory().numBytes;
    const x = tf.tensor([1, 2, 3, 4]);
    const y = tf.clone(x);
    const z = tf.cast(x, 'float32');
    x.dispose();
    expect(Array.from(await y.data())).toEqual([1, 2, 3, 4]);
    y.dispose();
    expect(Array.from(await z.data())).toEqual([1, 2, 3, 4]);
    expect(tf.memory().numBytes).toBeGreaterThan(before);
    z.dispose();
    expect(tf.memory().numBytes).toBe(before);
  });

  it('a variable assigned a new value keeps its saved clone unchanged, and casts between dtypes still convert', async () => {
    await initBackend('wasm');
    const v = tf.variable(tf.tensor([1.5, -2.5]));
    const saved = tf.clone(v);
    v.assign(tf.tensor([7, 8]));
    expect(Array.from(await saved.data())).toEqual([1.5, -2.5]);
    expect(Array.from(await v.data())).toEqual([7, 8]);
    const asInt = tf.cast(saved, 'int32');
    expect(asInt.dtype).toBe('int32');
    expect(Array.from(await asInt.data())).toEqual([1, -2]);
    tf.dispose([v, saved, asInt]);
  });
});
