import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';
import { composedSgdStep, SGD_STEP, sgdStep, type SgdStepAttrs } from '../../src/engine/sgd-step.ts';
import { hostSgdStep } from '../../src/engine/kernels/wasm/sgd-step.ts';
import { simdKernels } from '../../src/engine/kernels/wasm/simd-kernels.ts';
import { randn } from './helpers.ts';

const bits = (t: tf.Tensor | undefined) => (t === undefined ? undefined : Buffer.from((t.dataSync() as Float32Array).buffer).toString('hex'));

/** A 0/1 mask with about a third zeros, from a fixed seed. */
function mask(shape: number[], seed: number): tf.Tensor {
  return tf.tidy(() => tf.cast(tf.greater(randn(shape, seed), -0.43), 'float32'));
}

const SETTINGS: Array<[string, SgdStepAttrs, { prev: boolean; mask: boolean }]> = [
  ['plain SGD', { lr: 0.1, momentum: 0, weightDecay: 0, nesterov: false }, { prev: false, mask: false }],
  ['weight decay, first momentum step', { lr: 0.05, momentum: 0.9, weightDecay: 1e-4, nesterov: false }, { prev: false, mask: false }],
  ['momentum with a buffer, masked', { lr: 0.05, momentum: 0.9, weightDecay: 5e-4, nesterov: false }, { prev: true, mask: true }],
  ['Nesterov, masked, no weight decay', { lr: 0.013, momentum: 0.8, weightDecay: 0, nesterov: true }, { prev: true, mask: true }],
  ['plain SGD, masked', { lr: 0.3, momentum: 0, weightDecay: 1e-3, nesterov: false }, { prev: false, mask: true }],
];
// 1 and 7: only the element-by-element tail; 131075: several blocks of 2^16, then a tail of 3.
const SHAPES = [[1], [7], [3, 3, 4, 5], [131075]];

describe('fused SGD step (wasm)', () => {
  it('is registered on wasm and runs on the SIMD kernels', async () => {
    await initBackend('wasm');
    expect(tf.getKernel(SGD_STEP, 'wasm')).toBeDefined();
    expect(simdKernels()).toBeDefined();
  });

  for (const [label, attrs, has] of SETTINGS) {
    for (const shape of SHAPES) {
      it(`${label}, shape [${shape}]: the same bits as the composed tfjs ops, and as the host loop`, async () => {
        await initBackend('wasm');
        const seed = shape.reduce((a, b) => a * b, 1);
        const theta = randn(shape, seed + 1);
        const g = randn(shape, seed + 2, 0.1);
        const prev = has.prev ? randn(shape, seed + 3, 0.05) : undefined;
        const m = has.mask ? mask(shape, seed + 4) : undefined;
        const fused = sgdStep(theta, g, prev, m, attrs);
        const composed = composedSgdStep(theta, g, prev, m, attrs);
        expect(bits(fused.theta)).toBe(bits(composed.theta));
        expect(bits(fused.momentum)).toBe(bits(composed.momentum));
        expect(fused.momentum === undefined).toBe(attrs.momentum === 0);
        const n = theta.size;
        const out = new Float32Array(n);
        const outB = attrs.momentum !== 0 ? new Float32Array(n) : undefined;
        const host = (t: tf.Tensor | undefined) => (t === undefined ? undefined : (t.dataSync() as Float32Array));
        hostSgdStep(host(theta)!, host(g)!, host(prev), host(m), out, outB, attrs);
        expect(Buffer.from(out.buffer).toString('hex')).toBe(bits(composed.theta));
        if (outB) expect(Buffer.from(outB.buffer).toString('hex')).toBe(bits(composed.momentum));
        if (m) {
          // Masked entries are exactly zero in θ' and in the buffer.
          const mv = m.dataSync();
          const tv = fused.theta.dataSync();
          const bv = fused.momentum?.dataSync();
          for (let i = 0; i < n; i++) if (mv[i] === 0) expect(tv[i] === 0 && (bv === undefined || bv[i] === 0)).toBe(true);
        }
        tf.dispose([theta, g, prev, m, fused.theta, fused.momentum, composed.theta, composed.momentum].filter((t) => t !== undefined));
      });
    }
  }

  it("matches PyTorch's convention in closed form over two steps (θ=1, g=0.5, wd=0.1, μ=0.9, lr=0.1)", async () => {
    await initBackend('wasm');
    const attrs = { lr: 0.1, momentum: 0.9, weightDecay: 0.1, nesterov: false };
    const g = tf.tensor1d([0.5]);
    const s1 = sgdStep(tf.tensor1d([1]), g, undefined, undefined, attrs);
    // d = 0.5 + 0.1·1 = 0.6, b = d, θ = 1 − 0.06
    expect(s1.theta.dataSync()[0]).toBeCloseTo(0.94, 6);
    const s2 = sgdStep(s1.theta, g, s1.momentum, undefined, attrs);
    // d = 0.5 + 0.094 = 0.594, b = 0.9·0.6 + 0.594 = 1.134, θ = 0.94 − 0.1134
    expect(s2.momentum!.dataSync()[0]).toBeCloseTo(1.134, 6);
    expect(s2.theta.dataSync()[0]).toBeCloseTo(0.8266, 6);
    const nesterov = sgdStep(tf.tensor1d([1]), g, undefined, undefined, { ...attrs, nesterov: true });
    // u = d + μ·b = 0.6 + 0.54, θ = 1 − 0.114
    expect(nesterov.theta.dataSync()[0]).toBeCloseTo(0.886, 6);
  });
});
