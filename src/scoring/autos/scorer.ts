import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../util/rng.ts';

export interface ScorerSpec {
  inputs: number;
  hidden: number[];
  activation: 'relu' | 'tanh';
}

export type ScorerWeights = Array<{ w: tf.Tensor2D; b: tf.Tensor1D }>;

/** Small MLP → one survival score per row; He/Glorot-uniform-like init from a seeded host RNG. */
export function initScorer(spec: ScorerSpec, seed: number): ScorerWeights {
  const rng = new Rng(seed);
  const dims = [spec.inputs, ...spec.hidden, 1];
  return dims.slice(1).map((out, i) => {
    const fin = dims[i];
    const bound = Math.sqrt(6 / (fin + out));
    return {
      w: tf.tensor2d(
        Float32Array.from({ length: fin * out }, () => bound * (2 * rng.next() - 1)),
        [fin, out],
      ),
      b: tf.zeros([out]) as tf.Tensor1D,
    };
  });
}

export function scorerForward(spec: ScorerSpec, weights: ScorerWeights, x: tf.Tensor2D): tf.Tensor1D {
  let h: tf.Tensor2D = x;
  weights.forEach(({ w, b }, i) => {
    h = tf.add(tf.matMul(h, w), b) as tf.Tensor2D;
    if (i < weights.length - 1) h = (spec.activation === 'relu' ? tf.relu(h) : tf.tanh(h)) as tf.Tensor2D;
  });
  return tf.reshape(h, [-1]) as tf.Tensor1D;
}

/** Scores rows of a [n, inputs] host matrix in chunks. */
export async function scoreRows(spec: ScorerSpec, weights: ScorerWeights, x: Float32Array, chunk = 65536): Promise<Float32Array> {
  const n = x.length / spec.inputs;
  const out = new Float32Array(n);
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    const y = tf.tidy(() => scorerForward(spec, weights, tf.tensor2d(x.subarray(s * spec.inputs, (s + m) * spec.inputs), [m, spec.inputs])));
    out.set(await y.data(), s);
    y.dispose();
  }
  return out;
}
