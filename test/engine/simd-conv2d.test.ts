import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';
import { geometry } from '../../src/engine/kernels/conv-backprop.ts';
import { replacedConv2D } from '../../src/engine/kernels/wasm/conv2d.ts';
import { simdKernels } from '../../src/engine/kernels/wasm/simd-kernels.ts';
import { randn } from './helpers.ts';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];

/** y by direct summation in float64 on the host (the definition: no padding copy, no tiles). */
function convFloat64(x: tf.Tensor4D, w: tf.Tensor4D, stride: number, pad: Pad): { shape: number[]; values: Float64Array } {
  const [n, h, wd, cin] = x.shape;
  const [k, , , cout] = w.shape;
  const g = geometry(x.shape, w.shape, { strides: [stride, stride], pad, dataFormat: 'NHWC' } as unknown as tf.NamedAttrMap);
  const xs = x.dataSync();
  const ws = w.dataSync();
  const out = new Float64Array(n * g.outH * g.outW * cout);
  for (let b = 0; b < n; b++)
    for (let p = 0; p < g.outH; p++)
      for (let q = 0; q < g.outW; q++)
        for (let i = 0; i < k; i++)
          for (let j = 0; j < k; j++) {
            const r = p * stride + i - g.padTop;
            const c = q * stride + j - g.padLeft;
            if (r < 0 || r >= h || c < 0 || c >= wd) continue;
            for (let ci = 0; ci < cin; ci++) {
              const xv = xs[((b * h + r) * wd + c) * cin + ci];
              for (let co = 0; co < cout; co++) out[((b * g.outH + p) * g.outW + q) * cout + co] += xv * ws[((i * k + j) * cin + ci) * cout + co];
            }
          }
  return { shape: [n, g.outH, g.outW, cout], values: out };
}

const cases: Array<{ n: number; h: number; w: number; cin: number; cout: number; k: number; stride: number; pad: Pad; note?: string }> = [
  { n: 3, h: 9, w: 7, cin: 8, cout: 16, k: 3, stride: 1, pad: 'same', note: '7 columns: one group of 4 and 3 single positions' },
  { n: 2, h: 9, w: 11, cin: 4, cout: 8, k: 3, stride: 2, pad: 'same' },
  { n: 2, h: 8, w: 8, cin: 12, cout: 8, k: 3, stride: 2, pad: 'same', note: 'even size, stride 2: padding below and right only' },
  { n: 2, h: 12, w: 12, cin: 6, cout: 16, k: 5, stride: 1, pad: 'valid', note: 'x used in place' },
  { n: 2, h: 10, w: 9, cin: 8, cout: 24, k: 1, stride: 2, pad: 'valid', note: 'x used in place, rows and columns past the window unread' },
  {
    n: 2,
    h: 7,
    w: 8,
    cin: 4,
    cout: 8,
    k: 3,
    stride: 2,
    pad: [
      [0, 0],
      [4, 1],
      [0, 5],
      [0, 0],
    ],
  },
  { n: 2, h: 14, w: 14, cin: 1, cout: 8, k: 5, stride: 1, pad: 'same', note: 'one input channel' },
  { n: 2, h: 6, w: 5, cin: 3, cout: 6, k: 3, stride: 1, pad: 'same', note: 'output channels not in 8s: the replaced kernel runs' },
  { n: 4, h: 4, w: 4, cin: 32, cout: 32, k: 3, stride: 1, pad: 'same' },
  { n: 1, h: 14, w: 14, cin: 512, cout: 8, k: 3, stride: 1, pad: 'same', note: 'padded x (512 KB) and packed filter in several blocks of the pool' },
];

describe("the project's SIMD Conv2D (wasm)", () => {
  it('is registered over the XNNPACK kernel and runs on the SIMD kernels', async () => {
    await initBackend('wasm');
    expect(simdKernels()).toBeDefined();
    expect(replacedConv2D('wasm')).toBeDefined();
    expect(tf.getKernel('Conv2D', 'wasm')!.kernelFunc).not.toBe(replacedConv2D('wasm')!.kernelFunc);
  });

  for (const c of cases) {
    it(`${c.k}x${c.k} stride ${c.stride} ${JSON.stringify(c.pad)} ${c.h}x${c.w} ${c.cin}->${c.cout}${c.note ? ` (${c.note})` : ''}: a float64 direct sum, and XNNPACK's bits`, async () => {
      await initBackend('wasm');
      tf.tidy(() => {
        const x = randn([c.n, c.h, c.w, c.cin], 17) as tf.Tensor4D;
        const w = randn([c.k, c.k, c.cin, c.cout], 18) as tf.Tensor4D;
        const y = tf.conv2d(x, w, c.stride, c.pad);
        const ref = convFloat64(x, w, c.stride, c.pad);
        expect(y.shape).toEqual(ref.shape);
        const got = y.dataSync();
        let num = 0;
        let den = 0;
        for (let i = 0; i < ref.values.length; i++) {
          num += (got[i] - ref.values[i]) ** 2;
          den += ref.values[i] ** 2;
        }
        expect(den).toBeGreaterThan(1);
        // float32 sums of K = k·k·cin terms: rounding error grows like √K (K = 4608 for the largest case).
        expect(Math.sqrt(num / den)).toBeLessThan(Math.max(1e-6, 3e-8 * Math.sqrt(c.k * c.k * c.cin)));
        // Same summation order as XNNPACK's (taps, then input channels): the same bits.
        const attrs = { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined };
        const xnn = replacedConv2D('wasm')!.kernelFunc({
          inputs: { x, filter: w },
          backend: tf.backend(),
          attrs: attrs as unknown as tf.NamedAttrMap,
        }) as tf.TensorInfo;
        const xnnValues = (tf.backend() as unknown as { typedArrayFromHeap(t: tf.TensorInfo): Float32Array }).typedArrayFromHeap(xnn).slice();
        tf.backend().disposeData(xnn.dataId);
        expect(Buffer.from(got.buffer).equals(Buffer.from(xnnValues.buffer))).toBe(true);
      });
    });
  }
});
