import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';
import { simdKernels } from '../../src/engine/kernels/wasm/simd-kernels.ts';
import { composedReluGrad, RELU_GRAD, reluGrad } from '../../src/engine/relu-grad.ts';
import { randn } from './helpers.ts';

const bits = (t: tf.Tensor) => Buffer.from((t.dataSync() as Float32Array).slice().buffer).toString('hex');

/** randn with special values mixed in: ±0, ±inf, NaNs of both signs and with a payload, denormals. */
function withSpecials(shape: number[], seed: number): tf.Tensor {
  const v = randn(shape, seed).dataSync().slice() as Float32Array;
  const specials = new Float32Array(
    new Int32Array([0, 0x80000000 | 0, 0x7f800000, 0xff800000 | 0, 0x7fc00000, 0xffc00000 | 0, 0x7fc00123, 1, 0x80000001 | 0]).buffer,
  );
  for (let i = 0; i < v.length; i += 5) v[i] = specials[(i / 5) % specials.length];
  return tf.tensor(v, shape);
}

// 1 and 7: only the element-by-element tail; 131075: several blocks of 2^16 elements, then a tail of 3.
const SHAPES = [[1], [7], [4, 5, 9], [131075]];

describe('fused ReLU gradient', () => {
  it('is registered on wasm and runs on the SIMD kernels', async () => {
    await initBackend('wasm');
    expect(simdKernels()).toBeDefined();
    expect(tf.getKernel(RELU_GRAD, 'wasm')).toBeDefined();
  });

  for (const shape of SHAPES) {
    it(`shape [${shape}]: the bits of tfjs's dy · cast(step(x)), special values included, and the definition`, async () => {
      await initBackend('wasm');
      const n = shape.reduce((p, d) => p * d, 1);
      const dy = withSpecials(shape, n + 3);
      const x = withSpecials(shape, n + 4);
      const fused = reluGrad(dy, x);
      expect(bits(fused)).toBe(bits(composedReluGrad(dy, x)));
      const g = fused.dataSync();
      const dv = dy.dataSync();
      const xv = x.dataSync();
      for (let i = 0; i < n; i++) {
        const step = Number.isNaN(xv[i]) ? NaN : xv[i] > 0 ? 1 : 0;
        expect(Object.is(g[i], Math.fround(dv[i] * step)) || (Number.isNaN(g[i]) && Number.isNaN(dv[i] * step))).toBe(true);
      }
    });
  }

  it("relu's gradient, first and second order, against closed forms on wasm and cpu", async () => {
    for (const backend of ['wasm', 'cpu'] as const) {
      await initBackend(backend);
      const x = randn([3, 17], 11);
      const v = randn([3, 17], 12);
      // f(x) = Σ v·relu(x)·x: ∂f/∂x = 2·v·x where x > 0, else 0; the gradient of ⟨∂f/∂x, v⟩ (through
      // the ReLU gradient's dy, which depends on x) is 2·v² where x > 0, else 0.
      const f = (t: tf.Tensor) => tf.sum(tf.mul(tf.mul(tf.relu(t), t), v));
      const xv = x.dataSync();
      const vv = v.dataSync();
      const g = tf.grad(f)(x).dataSync();
      const hv = tf
        .grad((t: tf.Tensor) => tf.sum(tf.mul(tf.grad(f)(t), v)))(x)
        .dataSync();
      for (let i = 0; i < xv.length; i++) {
        expect(g[i]).toBeCloseTo(xv[i] > 0 ? 2 * vv[i] * xv[i] : 0, 5);
        expect(hv[i]).toBeCloseTo(xv[i] > 0 ? 2 * vv[i] * vv[i] : 0, 5);
      }
    }
  });
});
