import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';
import { replacedBatchMatMul } from '../../src/engine/kernels/wasm/batch-mat-mul.ts';
import { simdKernels } from '../../src/engine/kernels/wasm/simd-kernels.ts';
import { randn } from './helpers.ts';

const hex = (v: Float32Array) => Buffer.from(v.buffer).toString('hex');

/** XNNPACK's fully-connected product (tfjs's own BatchMatMul, untransposed) on the same inputs. */
function xnnpack(a: tf.Tensor, b: tf.Tensor): Float32Array {
  const be = tf.backend() as unknown as tf.KernelBackend & { typedArrayFromHeap(t: tf.TensorInfo): Float32Array };
  const out = replacedBatchMatMul('wasm')!.kernelFunc({ inputs: { a, b }, backend: be, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
  const values = be.typedArrayFromHeap(out).slice();
  be.disposeData(out.dataId);
  return values;
}

// [M, K, N]: N below, at and past multiples of 8 (padded columns), M past multiples of 4, K odd.
const SHAPES = [[1, 1, 1], [5, 7, 3], [9, 33, 8], [13, 100, 10], [64, 300, 100], [64, 784, 300], [7, 84, 17]];

describe('the project\'s SIMD matrix product (wasm)', () => {
  for (const [m, k, n] of SHAPES) {
    it(`[${m}, ${k}] · [${k}, ${n}]: XNNPACK's bits, and within float32 rounding of a float64 sum`, async () => {
      await initBackend('wasm');
      expect(simdKernels()).toBeDefined();
      const a = randn([1, m, k], m * 1000 + k);
      const b = randn([1, k, n], k * 1000 + n);
      const ours = tf.matMul(a, b).dataSync() as Float32Array;
      expect(hex(ours)).toBe(hex(xnnpack(a, b)));
      const av = a.dataSync();
      const bv = b.dataSync();
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          let mag = 0;
          for (let q = 0; q < k; q++) {
            s += av[i * k + q] * bv[q * n + j];
            mag += Math.abs(av[i * k + q] * bv[q * n + j]);
          }
          expect(Math.abs(ours[i * n + j] - s)).toBeLessThanOrEqual(k * 2 ** -23 * mag + 1e-30);
        }
    });
  }

  it('transposed operands (host transpose, then the same kernel) give the untransposed product\'s bits', async () => {
    await initBackend('wasm');
    const a = randn([300, 64], 1);
    const b = randn([100, 300], 2);
    const ta = tf.transpose(a);
    const tb = tf.transpose(b);
    const plain = hex(tf.matMul(ta, tb).dataSync() as Float32Array);
    expect(hex(tf.matMul(a, b, true, true).dataSync() as Float32Array)).toBe(plain);
    expect(hex(tf.matMul(a, tb, true, false).dataSync() as Float32Array)).toBe(plain);
    expect(hex(tf.matMul(ta, b, false, true).dataSync() as Float32Array)).toBe(plain);
  });
});
