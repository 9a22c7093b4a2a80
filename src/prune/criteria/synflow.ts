import * as tf from '@tensorflow/tfjs';
import type { ParamMap } from '../../models/types.ts';
import type { Criterion } from './types.ts';

/**
 * SynFlow (Tanaka et al. 2020): with every parameter and BN statistic replaced by its absolute value,
 * R = Σ f(1) for an all-ones input in BN eval mode; score |θ ⊙ ∂R/∂θ|. Data-free; 100 rounds.
 */
export const synflow: Criterion = {
  name: 'synflow',
  description: '|θ ⊙ ∂R/∂θ|, R = Σ f_|θ|(1) (Tanaka et al. 2020), iterative',
  needsData: false,
  defaultBnMode: 'eval',
  defaultIterations: 100,
  score: async ({ model, params, masks }) => {
    const names = model.prunable.map((p) => p.name);
    const scores = tf.tidy(() => {
      const abs: ParamMap = {};
      for (const [n, t] of Object.entries(params)) abs[n] = tf.abs(t);
      const ws = model.prunable.map((p) => {
        const bits = masks?.get(p.name);
        return bits ? tf.mul(abs[p.name], tf.tensor(Float32Array.from(bits), p.shape)) : abs[p.name];
      });
      const ones = tf.ones([1, ...model.config.inputShape]) as tf.Tensor4D;
      const r = (...w: tf.Tensor[]) => {
        const p = { ...abs };
        names.forEach((n, i) => (p[n] = w[i]));
        return tf.sum(model.forward(p, ones, false).logits) as tf.Scalar;
      };
      const g = tf.grads(r)(ws);
      return ws.map((w, i) => tf.abs(tf.mul(w, g[i])));
    });
    const host = (await Promise.all(scores.map((t) => t.data()))) as Float32Array[];
    tf.dispose(scores);
    return { scores: new Map(names.map((n, i) => [n, host[i]])) };
  },
};
