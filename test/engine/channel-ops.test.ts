import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { channelAffine2, channelDot } from '../../src/engine/channel-ops.ts';
import { CHANNEL_AFFINE2, CHANNEL_DOT } from '../../src/engine/kernels/batch-norm.ts';
import { onBackend, randn } from './helpers.ts';

// Channels in 4s take the SIMD kernels on wasm, others the host loops and XNNPACK; the composed
// fallback (the op without its kernel) is the third arm.
const shapes = [
  [4, 5, 6, 8],
  [3, 7, 5],
  [2, 3, 3, 12],
  [9, 3],
];

/** Σ a·b per channel and a·α + b·β, in float64 on the host: the definitions. */
function reference(a: Float32Array, b: Float32Array, alpha: Float32Array, beta: Float32Array, c: number) {
  const dot = new Float64Array(c);
  const aff = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    dot[i % c] += a[i] * b[i];
    aff[i] = a[i] * alpha[i % c] + b[i] * beta[i % c];
  }
  return { dot, aff };
}

const maxRel = (got: ArrayLike<number>, want: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  return m;
};

describe('channel ops (batch-norm second order): PipelineChannelDot and PipelineChannelAffine2', () => {
  for (const shape of shapes) {
    for (const backend of ['wasm', 'cpu'] as const) {
      it(`${JSON.stringify(shape)} on ${backend}: the definition, the composition, and exact gradients`, async () => {
        const c = shape[shape.length - 1];
        let usedKernels = false;
        const [dot, aff, dotComposed, affComposed, ga, gb, galpha, gbeta, av, bv, alv, bev, g] = await onBackend(backend, () => {
          usedKernels = tf.getKernel(CHANNEL_DOT, backend) !== undefined && tf.getKernel(CHANNEL_AFFINE2, backend) !== undefined;
          const a = randn(shape, 1);
          const b = randn(shape, 2);
          const alpha = randn([c], 3);
          const beta = randn([c], 4);
          const w = randn(shape, 5);
          const v = randn([c], 6);
          // f = Σ w·(a·α + b·β) + Σ_c v·Σ a·b: its gradients are closed forms (checked below).
          const f = (x: tf.Tensor, y: tf.Tensor, al: tf.Tensor, be: tf.Tensor) =>
            tf.add(tf.sum(tf.mul(w, channelAffine2(x, al, y, be))), tf.sum(tf.mul(v, channelDot(x, y)))) as tf.Scalar;
          const grads = tf.grads(f)([a, b, alpha, beta]);
          const axes = shape.slice(0, -1).map((_, i) => i);
          return [
            channelDot(a, b),
            channelAffine2(a, alpha, b, beta),
            tf.sum(tf.mul(a, b), axes),
            tf.add(tf.mul(a, alpha), tf.mul(b, beta)),
            ...grads,
            a,
            b,
            alpha,
            beta,
            tf.concat([tf.reshape(w, [-1]), v]),
          ];
        });
        expect(usedKernels).toBe(true);
        const ref = reference(av, bv, alv, bev, c);
        expect(maxRel(dot, ref.dot)).toBeLessThan(1e-6);
        expect(maxRel(aff, ref.aff)).toBeLessThan(1e-6);
        expect(maxRel(dot, dotComposed)).toBeLessThan(1e-5);
        expect(maxRel(aff, affComposed)).toBeLessThan(1e-6);
        // ∂f/∂a = w·α + v·b, ∂f/∂b = w·β + v·a, ∂f/∂α = Σ w·a, ∂f/∂β = Σ w·b (per channel).
        const w = g.subarray(0, av.length);
        const v = g.subarray(av.length);
        const wantA = Array.from(av, (_, i) => w[i] * alv[i % c] + v[i % c] * bv[i]);
        const wantB = Array.from(av, (_, i) => w[i] * bev[i % c] + v[i % c] * av[i]);
        const wantAlpha = new Float64Array(c);
        const wantBeta = new Float64Array(c);
        for (let i = 0; i < av.length; i++) {
          wantAlpha[i % c] += w[i] * av[i];
          wantBeta[i % c] += w[i] * bv[i];
        }
        expect(maxRel(ga, wantA)).toBeLessThan(1e-5);
        expect(maxRel(gb, wantB)).toBeLessThan(1e-5);
        expect(maxRel(galpha, wantAlpha)).toBeLessThan(1e-5);
        expect(maxRel(gbeta, wantBeta)).toBeLessThan(1e-5);
        expect(Math.max(...wantAlpha.map(Math.abs))).toBeGreaterThan(0.1);
      });
    }
  }
});
