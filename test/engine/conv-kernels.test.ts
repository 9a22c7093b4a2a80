import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';
import { KernelComposer } from '../../src/engine/kernels/compose.ts';
import { conv2dBackpropFilter, conv2dBackpropInput } from '../../src/engine/kernels/conv-backprop.ts';
import { maxPoolGradInto } from '../../src/engine/kernels/max-pool-grad.ts';
import { simdKernels } from '../../src/engine/kernels/wasm/simd-kernels.ts';
import { onBackend, randn, relErr } from './helpers.ts';

interface Case {
  n: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  pad: 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
}

// Stride 1 and 2, 'same' and 'valid', 1×1 and 3×3, odd and even sizes, non-square inputs.
const cases: Case[] = [];
for (const k of [1, 3])
  for (const stride of [1, 2])
    for (const pad of ['same', 'valid'] as const)
      for (const [h, w] of [
        [8, 8],
        [7, 9],
      ])
        cases.push({ n: 3, h, w, cin: 5, cout: 6, k, stride, pad });
cases.push({ n: 2, h: 32, w: 32, cin: 16, cout: 32, k: 3, stride: 2, pad: 'same' });
cases.push({ n: 2, h: 5, w: 5, cin: 3, cout: 4, k: 5, stride: 1, pad: 'valid' });
// Strided input gradients by output phase: kernels larger, smaller and not a multiple of the stride,
// phases that no tap reaches, and explicit padding larger than the kernel (dy cropped per phase); each
// again with input channels in 8s, where dX is the SIMD kernel's (every phase's conv writing into dx in place).
const phaseCases: Case[] = [
  { n: 2, h: 11, w: 9, cin: 4, cout: 3, k: 5, stride: 2, pad: 'same' },
  { n: 2, h: 10, w: 11, cin: 3, cout: 5, k: 2, stride: 3, pad: 'valid' },
  { n: 2, h: 9, w: 9, cin: 3, cout: 2, k: 1, stride: 3, pad: 'valid' },
  {
    n: 2,
    h: 7,
    w: 8,
    cin: 3,
    cout: 4,
    k: 3,
    stride: 2,
    pad: [
      [0, 0],
      [4, 1],
      [0, 5],
      [0, 0],
    ],
  },
  {
    n: 2,
    h: 6,
    w: 6,
    cin: 2,
    cout: 3,
    k: 3,
    stride: 1,
    pad: [
      [0, 0],
      [3, 0],
      [1, 4],
      [0, 0],
    ],
  },
];
for (const c of phaseCases) cases.push(c, { ...c, cin: 8 });
cases.push({ n: 3, h: 7, w: 9, cin: 8, cout: 6, k: 3, stride: 1, pad: 'same' });
cases.push({ n: 2, h: 8, w: 8, cin: 24, cout: 16, k: 1, stride: 2, pad: 'same' });
// Padded dy (512 KB) and packed filter (4608 groups of 8) large enough to run as several blocks of the pool.
cases.push({ n: 1, h: 14, w: 14, cin: 8, cout: 512, k: 3, stride: 1, pad: 'same' });

const label = (c: Case) => `${c.k}x${c.k} stride ${c.stride} ${typeof c.pad === 'string' ? c.pad : JSON.stringify(c.pad)} ${c.h}x${c.w} ${c.cin}->${c.cout}`;

describe('conv backprop kernels on wasm (dW: SIMD kernel and the composed fallback; dX: SIMD kernel with input channels in 8s, else composed) match the cpu backend', () => {
  for (const [i, c] of cases.entries()) {
    it(label(c), async () => {
      const compute = () => {
        const x = randn([c.n, c.h, c.w, c.cin], 100 + i) as tf.Tensor4D;
        const filter = randn([c.k, c.k, c.cin, c.cout], 200 + i) as tf.Tensor4D;
        const out = tf.conv2d(x, filter, c.stride, c.pad);
        const dy = randn(out.shape, 300 + i) as tf.Tensor4D;
        const dw = tf.engine().runKernel(
          'Conv2DBackpropFilter',
          { x, dy },
          {
            strides: [c.stride, c.stride],
            pad: c.pad,
            dataFormat: 'NHWC',
            filterShape: filter.shape,
          },
        ) as tf.Tensor;
        const inputAttrs = { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', inputShape: x.shape };
        if (tf.getBackend() !== 'wasm') return [dw, tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, inputAttrs) as tf.Tensor];
        const pool = simdKernels()!;
        const run = pool.run;
        const calls: string[] = [];
        pool.run = (name, ...rest) => (calls.push(name), run.call(pool, name, ...rest));
        const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, inputAttrs) as tf.Tensor;
        pool.run = run;
        // The composed gradients, which serve when the SIMD kernels cannot start.
        const composer = new KernelComposer(tf.backend(), 'wasm');
        const attrs = { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC' } as unknown as tf.NamedAttrMap;
        const dwComposed = conv2dBackpropFilter(composer, x, dy, filter.shape, attrs);
        const dxComposed = conv2dBackpropInput(new KernelComposer(tf.backend(), 'wasm'), dy, filter, x.shape, attrs);
        return [
          dw,
          dx,
          ...[dwComposed, dxComposed].map((t) => tf.engine().makeTensorFromTensorInfo(t)),
          tf.tensor1d([calls.filter((n) => n === 'conv2d').length]),
        ];
      };
      const [dwCpu, dxCpu] = await onBackend('cpu', compute);
      const [dwWasm, dxWasm, dwComposed, dxComposed, [inputGradConvs]] = await onBackend('wasm', compute);
      expect(simdKernels()).toBeDefined();
      expect(relErr(dwWasm, dwCpu)).toBeLessThan(1e-4);
      expect(relErr(dwComposed, dwCpu)).toBeLessThan(1e-4);
      expect(relErr(dxWasm, dxCpu)).toBeLessThan(1e-4);
      expect(relErr(dxComposed, dxCpu)).toBeLessThan(1e-4);
      const simdPath = c.cin % 8 === 0 && !(c.k === 1 && c.stride === 1);
      // One conv per output phase that some tap reaches (phases taken along each axis: min(k, stride)).
      expect(inputGradConvs).toBe(simdPath ? Math.min(c.k, c.stride) ** 2 : 0);
      // The same polyphase convs in the same order: the same bits as the composed form.
      if (simdPath) expect(Buffer.from(dxWasm.buffer).equals(Buffer.from(dxComposed.buffer))).toBe(true);
    });
  }

  it('a conv training gradient (tf.grads) agrees across backends and is not all zeros', async () => {
    const compute = () => {
      const x = randn([4, 9, 9, 3], 7) as tf.Tensor4D;
      const w1 = randn([3, 3, 3, 8], 8, 0.3) as tf.Tensor4D;
      const w2 = randn([1, 1, 8, 4], 9, 0.3) as tf.Tensor4D;
      const f = (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.square(tf.conv2d(tf.relu(tf.conv2d(x, a as tf.Tensor4D, 2, 'same')) as tf.Tensor4D, b as tf.Tensor4D, 1, 'valid'))) as tf.Scalar;
      return tf.grads(f)([w1, w2]);
    };
    const cpu = await onBackend('cpu', compute);
    const wasm = await onBackend('wasm', compute);
    for (let i = 0; i < 2; i++) {
      expect(Math.max(...cpu[i].map(Math.abs))).toBeGreaterThan(1e-3);
      expect(relErr(wasm[i], cpu[i])).toBeLessThan(1e-4);
    }
  });

  it('avgPool gradient agrees across backends', async () => {
    const compute = () => {
      const x = randn([2, 6, 6, 3], 11) as tf.Tensor4D;
      const g = (a: tf.Tensor) => tf.sum(tf.mul(tf.avgPool(a as tf.Tensor4D, 2, 2, 'valid'), randn([2, 3, 3, 3], 13))) as tf.Scalar;
      return [tf.grad(g)(x)];
    };
    const cpu = await onBackend('cpu', compute);
    const wasm = await onBackend('wasm', compute);
    expect(relErr(wasm[0], cpu[0])).toBeLessThan(1e-6);
  });

  // Windows that tile, overlap, overhang into padding and fall off odd edges (where tfjs-wasm's own
  // kernel drops the last window); x rounded to a few levels so most windows hold tied maxima, which
  // must route to the first one in row-major order, as on cpu. Where windows overlap, an input that
  // wins several of them sums their gradients in another order than cpu's, so only there the values
  // may differ in the last bit; the routing (which entries are nonzero) must still be the same.
  const poolCases: Array<{ shape: [number, number, number, number]; f: number; s: number; pad: 'same' | 'valid' }> = [
    { shape: [2, 6, 6, 3], f: 2, s: 2, pad: 'valid' },
    { shape: [2, 7, 9, 4], f: 2, s: 2, pad: 'valid' },
    { shape: [2, 7, 7, 3], f: 3, s: 2, pad: 'same' },
    { shape: [1, 5, 6, 2], f: 3, s: 1, pad: 'same' },
    { shape: [2, 5, 5, 5], f: 2, s: 2, pad: 'same' },
    // Channels in 4s, windows tiling without overlap or padding: the SIMD kernel (with [2,7,9,4] above).
    { shape: [2, 8, 8, 8], f: 2, s: 2, pad: 'valid' },
    { shape: [3, 6, 9, 12], f: 3, s: 3, pad: 'valid' },
    { shape: [2, 4, 6, 16], f: 2, s: 2, pad: 'same' },
  ];
  for (const { shape, f, s, pad } of poolCases) {
    it(`maxPool gradient ${f}x${f} stride ${s} ${pad} on ${shape.join('x')} equals cpu, ties included`, async () => {
      const compute = () => {
        const x = tf.round(tf.mul(randn(shape, 11), 1.5)) as tf.Tensor4D;
        const y = tf.maxPool(x, f, s, pad);
        const weight = randn(y.shape, 12);
        return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, f, s, pad), weight)) as tf.Scalar)(x)];
      };
      const [cpu] = await onBackend('cpu', compute);
      const [wasm] = await onBackend('wasm', compute);
      expect(cpu.filter((v) => v !== 0).length).toBeGreaterThan(0);
      expect(Array.from(wasm, (v) => v !== 0)).toEqual(Array.from(cpu, (v) => v !== 0));
      if (f <= s) expect(wasm).toEqual(cpu);
      else expect(relErr(wasm, cpu)).toBeLessThan(1e-6);
    });
  }

  it('maxPool gradient with NaNs: the SIMD kernel routes as the host loop does (a NaN never wins; a window whose first tap is NaN keeps it)', async () => {
    await initBackend('wasm');
    expect(simdKernels()).toBeDefined();
    const shape: [number, number, number, number] = [2, 6, 8, 8];
    const values = tf.tidy(
      () =>
        tf
          .round(tf.mul(randn(shape, 13), 1.5))
          .dataSync()
          .slice() as Float32Array,
    );
    for (let i = 0; i < values.length; i += 7) values[i] = NaN;
    for (const i of [0, 8, 64, 72]) values[i] = NaN; // the first 2×2 window of channel 0: all NaN
    const weights = tf.tidy(() => randn([2, 3, 4, 8], 14).dataSync().slice() as Float32Array);
    const [simd] = tf.tidy(() => {
      const x = tf.tensor4d(values, shape);
      const weight = tf.tensor4d(weights, [2, 3, 4, 8]);
      return [
        tf
          .grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid'), weight)) as tf.Scalar)(x)
          .dataSync(),
      ];
    });
    const host = new Float32Array(values.length);
    maxPoolGradInto(values, weights, tf.backend_util.computePool2DInfo(shape, 2, 2, 1, 'valid'), host);
    expect(host[0]).toBe(weights[0]);
    expect(Array.from(simd)).toEqual(Array.from(host));
  });
});
