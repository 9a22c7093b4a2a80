import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';
import { geometry } from '../../src/engine/kernels/conv-backprop.ts';
import { simdKernels, startSimdKernels } from '../../src/engine/kernels/wasm/simd-kernels.ts';
import { randn } from './helpers.ts';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];

/** dW by direct summation in float64 on the host (the definition, no im2col or transposes). */
function filterGradFloat64(x: tf.Tensor4D, dy: tf.Tensor4D, k: number, stride: number, pad: Pad): Float64Array {
  const [n, h, w, cin] = x.shape;
  const [, ho, wo, cout] = dy.shape;
  const g = geometry(x.shape, [k, k, cin, cout], { strides: [stride, stride], pad, dataFormat: 'NHWC' } as unknown as tf.NamedAttrMap);
  const xs = x.dataSync();
  const ds = dy.dataSync();
  const out = new Float64Array(k * k * cin * cout);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++)
      for (let b = 0; b < n; b++)
        for (let p = 0; p < ho; p++)
          for (let q = 0; q < wo; q++) {
            const r = p * stride + i - g.padTop;
            const c = q * stride + j - g.padLeft;
            if (r < 0 || r >= h || c < 0 || c >= w) continue;
            for (let ci = 0; ci < cin; ci++) {
              const xv = xs[((b * h + r) * w + c) * cin + ci];
              for (let co = 0; co < cout; co++) out[((i * k + j) * cin + ci) * cout + co] += xv * ds[((b * ho + p) * wo + q) * cout + co];
            }
          }
  return out;
}

const cases: Array<{ n: number; h: number; w: number; cin: number; cout: number; k: number; stride: number; pad: Pad }> = [
  { n: 3, h: 9, w: 7, cin: 8, cout: 16, k: 3, stride: 1, pad: 'same' },
  { n: 2, h: 9, w: 11, cin: 4, cout: 8, k: 3, stride: 2, pad: 'same' },
  { n: 2, h: 8, w: 8, cin: 12, cout: 8, k: 5, stride: 1, pad: 'valid' },
  { n: 2, h: 10, w: 9, cin: 8, cout: 24, k: 1, stride: 2, pad: 'valid' },
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
  { n: 2, h: 6, w: 5, cin: 3, cout: 6, k: 3, stride: 1, pad: 'same' }, // channels widened to 4 and 8
  { n: 4, h: 4, w: 4, cin: 32, cout: 32, k: 3, stride: 1, pad: 'same' }, // short rows: chunks span images
];

describe("the project's SIMD filter gradient (wasm)", () => {
  it('starts with the wasm backend, on every thread the backend has', async () => {
    const info = await initBackend('wasm');
    expect(info.ownKernels).toBe(true);
    expect(simdKernels()?.threads).toBe(info.threads);
  });

  for (const c of cases) {
    it(`${c.k}x${c.k} stride ${c.stride} ${JSON.stringify(c.pad)} ${c.h}x${c.w} ${c.cin}->${c.cout} equals a float64 direct sum`, async () => {
      await initBackend('wasm');
      expect(simdKernels()).toBeDefined();
      tf.tidy(() => {
        const x = randn([c.n, c.h, c.w, c.cin], 7) as tf.Tensor4D;
        const probe = tf.conv2d(x, tf.zeros([c.k, c.k, c.cin, c.cout]) as tf.Tensor4D, c.stride, c.pad);
        const dy = randn(probe.shape, 8) as tf.Tensor4D;
        const dw = tf
          .engine()
          .runKernel(
            'Conv2DBackpropFilter',
            { x, dy },
            { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', filterShape: [c.k, c.k, c.cin, c.cout] },
          ) as tf.Tensor;
        const ref = filterGradFloat64(x, dy, c.k, c.stride, c.pad);
        const got = dw.dataSync();
        let num = 0;
        let den = 0;
        for (let i = 0; i < ref.length; i++) {
          num += (got[i] - ref[i]) ** 2;
          den += ref[i] ** 2;
        }
        expect(den).toBeGreaterThan(1);
        expect(Math.sqrt(num / den)).toBeLessThan(1e-6);
      });
    });
  }

  it("says why (one line) instead of starting where tfjs-wasm's heap cannot be reached", async () => {
    await initBackend('cpu');
    const reason = await startSimdKernels(1);
    expect(reason).toBe("the wasm backend's memory is not reachable (a changed tfjs-backend-wasm?)");
    await initBackend('wasm');
    expect(simdKernels()).toBeDefined(); // the running pool was left alone
  });

  it('gives bit-identical results however the tiles are cut into blocks', async () => {
    await initBackend('wasm');
    const pool = simdKernels()!;
    const x = randn([4, 12, 12, 16], 1) as tf.Tensor4D;
    const dy = randn([4, 12, 12, 16], 2) as tf.Tensor4D;
    const outs = [tf.zeros([3, 3, 16, 16]), tf.zeros([3, 3, 16, 16])];
    const be = tf.backend() as unknown as { typedArrayFromHeap(t: tf.Tensor): Float32Array };
    const at = (t: tf.Tensor) => be.typedArrayFromHeap(t).byteOffset;
    const tiles = 9 * 4 * 2;
    for (const [i, minPerBlock] of [tiles, 1].entries())
      pool.run('filterGrad', [at(x), at(dy), at(outs[i]), 4, 12, 12, 16, 12, 12, 16, 3, 1, 1, 1, 1, 5], tiles, minPerBlock);
    const [one, many] = outs.map((t) => t.dataSync());
    expect(one.some((v) => v !== 0)).toBe(true);
    expect(Buffer.from(many.buffer).equals(Buffer.from(one.buffer))).toBe(true);
    tf.dispose([x, dy, ...outs]);
  });

  it('reports a trap in any thread as an error and keeps working afterwards', async () => {
    await initBackend('wasm');
    const pool = simdKernels()!;
    const outside = 0x7ffffff0; // beyond the heap: every tile's first load traps
    expect(() => pool.run('filterGrad', [outside, outside, outside, 1, 8, 8, 4, 8, 8, 8, 3, 1, 1, 1, 1, 8], 9 * 1 * 1 * 8, 1)).toThrow();
    const x = randn([2, 8, 8, 4], 3) as tf.Tensor4D;
    const dy = randn([2, 8, 8, 8], 4) as tf.Tensor4D;
    const dw = tf
      .engine()
      .runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 4, 8] }) as tf.Tensor;
    const ref = filterGradFloat64(x, dy, 3, 1, 'same');
    expect(Math.max(...Array.from(dw.dataSync(), (v, i) => Math.abs(v - ref[i])))).toBeLessThan(1e-4);
    tf.dispose([x, dy, dw]);
  });
});
