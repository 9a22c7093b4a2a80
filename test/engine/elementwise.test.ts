import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';
import { replacedElementwise } from '../../src/engine/kernels/wasm/elementwise.ts';
import { simdKernels } from '../../src/engine/kernels/wasm/simd-kernels.ts';
import { composedReluGrad, RELU_GRAD, reluGrad } from '../../src/engine/relu-grad.ts';
import { randn } from './helpers.ts';

const hex = (v: ArrayLike<number>) => Buffer.from(Float32Array.from(v).buffer).toString('hex');
const bits = (t: tf.Tensor) => hex(t.dataSync());

/** randn with special values mixed in: ±0, ±inf, NaNs of both signs, denormals. */
function withSpecials(shape: number[], seed: number): tf.Tensor {
  const v = randn(shape, seed).dataSync().slice() as Float32Array;
  const specials = new Float32Array(new Int32Array([0, 0x80000000 | 0, 0x7f800000, 0xff800000 | 0, 0x7fc00000, 0xffc00000 | 0, 0x7fc00123, 1, 0x80000001 | 0]).buffer);
  for (let i = 0; i < v.length; i += 5) v[i] = specials[(i / 5) % specials.length];
  return tf.tensor(v, shape);
}

/** Runs tfjs's own (XNNPACK's) kernel for `kernelName` directly and returns a host copy. */
function previous(kernelName: string, inputs: Record<string, tf.Tensor>): Float32Array {
  const be = tf.backend() as unknown as tf.KernelBackend & { typedArrayFromHeap(t: tf.TensorInfo): Float32Array };
  const out = replacedElementwise(kernelName, 'wasm')!.kernelFunc({ inputs, backend: be, attrs: {} }) as tf.TensorInfo;
  const values = be.typedArrayFromHeap(out).slice();
  be.disposeData(out.dataId);
  return values;
}

// 1 and 7: only the element-by-element tail; 131075: several blocks of 2^16 elements, then a tail of 3.
const SHAPES = [[1], [7], [4, 5, 9], [131075]];

describe('SIMD elementwise kernels (wasm)', () => {
  it('replace XNNPACK\'s Add, Multiply and Relu on wasm, and the fused ReLU gradient is registered', async () => {
    await initBackend('wasm');
    expect(simdKernels()).toBeDefined();
    for (const name of ['Add', 'Multiply', 'Relu']) {
      expect(replacedElementwise(name, 'wasm')).toBeDefined();
      expect(tf.getKernel(name, 'wasm')!.kernelFunc).not.toBe(replacedElementwise(name, 'wasm')!.kernelFunc);
    }
    expect(tf.getKernel(RELU_GRAD, 'wasm')).toBeDefined();
  });

  for (const shape of SHAPES) {
    it(`shape [${shape}]: Add, Multiply and Relu give XNNPACK's bits, special values included`, async () => {
      await initBackend('wasm');
      const n = shape.reduce((p, d) => p * d, 1);
      const a = withSpecials(shape, n + 1);
      const b = withSpecials(shape, n + 2);
      expect(bits(tf.add(a, b))).toBe(hex(previous('Add', { a, b })));
      expect(bits(tf.mul(a, b))).toBe(hex(previous('Multiply', { a, b })));
      expect(bits(tf.relu(a))).toBe(hex(previous('Relu', { x: a })));
      // Against the definition too: a + b and a·b rounded to float32; ReLU as the integer maximum of the bits and 0.
      const av = a.dataSync();
      const bv = b.dataSync();
      const sum = tf.add(a, b).dataSync();
      const prod = tf.mul(a, b).dataSync();
      const relu = new Int32Array(tf.relu(a).dataSync().slice().buffer);
      const aBits = new Int32Array(av.slice().buffer);
      for (let i = 0; i < n; i++) {
        expect(Object.is(sum[i], Math.fround(av[i] + bv[i])) || (Number.isNaN(sum[i]) && Number.isNaN(av[i] + bv[i]))).toBe(true);
        expect(Object.is(prod[i], Math.fround(av[i] * bv[i])) || (Number.isNaN(prod[i]) && Number.isNaN(av[i] * bv[i]))).toBe(true);
        expect(relu[i]).toBe(Math.max(aBits[i], 0));
      }
    });

    it(`shape [${shape}]: the fused ReLU gradient gives the bits of tfjs's dy · cast(step(x))`, async () => {
      await initBackend('wasm');
      const n = shape.reduce((p, d) => p * d, 1);
      const dy = withSpecials(shape, n + 3);
      const x = withSpecials(shape, n + 4);
      expect(bits(reluGrad(dy, x))).toBe(bits(composedReluGrad(dy, x)));
      const g = reluGrad(dy, x).dataSync();
      const dv = dy.dataSync();
      const xv = x.dataSync();
      for (let i = 0; i < n; i++) {
        const step = Number.isNaN(xv[i]) ? NaN : xv[i] > 0 ? 1 : 0;
        expect(Object.is(g[i], Math.fround(dv[i] * step)) || (Number.isNaN(g[i]) && Number.isNaN(dv[i] * step))).toBe(true);
      }
    });
  }

  it('broadcast and int32 inputs still go to tfjs\'s kernels (same values)', async () => {
    await initBackend('wasm');
    const a = randn([6, 5], 7);
    const row = randn([5], 8);
    const av = a.dataSync();
    const rv = row.dataSync();
    const sum = tf.add(a, row).dataSync();
    for (let i = 0; i < 30; i++) expect(sum[i]).toBe(Math.fround(av[i] + rv[i % 5]));
    expect(Array.from(tf.mul(tf.tensor1d([2, -3], 'int32'), tf.tensor1d([4, 5], 'int32')).dataSync())).toEqual([8, -15]);
  });

  it('relu\'s gradient (first and second order) matches tfjs\'s composition on wasm and cpu', async () => {
    for (const backend of ['wasm', 'cpu'] as const) {
      await initBackend(backend);
      const x = randn([3, 17], 11);
      const v = randn([3, 17], 12);
      // f(x) = Σ v·relu(x)·x: ∂f/∂x = v·step(x)·x + v·relu(x); the gradient of ⟨∂f/∂x, v⟩ has a term through the ReLU gradient's dy.
      const f = (t: tf.Tensor) => tf.sum(tf.mul(tf.mul(tf.relu(t), t), v));
      const g = tf.grad(f)(x);
      const xv = x.dataSync();
      const vv = v.dataSync();
      const gv = g.dataSync();
      for (let i = 0; i < xv.length; i++) expect(gv[i]).toBeCloseTo(xv[i] > 0 ? 2 * vv[i] * xv[i] : 0, 5);
      const hv = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.grad(f)(t), v)))(x).dataSync();
      for (let i = 0; i < xv.length; i++) expect(hv[i]).toBeCloseTo(xv[i] > 0 ? 2 * vv[i] * vv[i] : 0, 5);
    }
  });
});
