import * as tf from '@tensorflow/tfjs';
import { bitsTensor, type Masks } from '../../masks/masks.ts';
import type { Model, ParamMap } from '../../models/types.ts';
import { pathFlowGradients } from '../path-flow.ts';
import type { Scores } from '../select.ts';
import type { Criterion } from './types.ts';

/**
 * |θ ⊙ ∂R/∂θ| with every parameter and BN statistic replaced by its absolute value and
 * R = Σ f(1) for an all-ones input in BN eval mode (pruned weights zero).
 */
export async function synflowScores(model: Model, params: ParamMap, masks?: Masks): Promise<Map<string, Float32Array>> {
  const names = model.prunable.map((p) => p.name);
  const scores = tf.tidy(() => {
    const abs: ParamMap = {};
    for (const [n, t] of Object.entries(params)) abs[n] = tf.abs(t);
    const ws = model.prunable.map((p) => {
      const bits = masks?.get(p.name);
      return bits ? tf.mul(abs[p.name], bitsTensor(bits, p.shape)) : abs[p.name];
    });
    const g = pathFlowGradients(model, abs, ws);
    return ws.map((w, i) => tf.abs(tf.mul(w, g[i])));
  });
  const host = (await Promise.all(scores.map((t) => t.data()))) as Float32Array[];
  tf.dispose(scores);
  return new Map(names.map((n, i) => [n, host[i]]));
}

/** SynFlow (Tanaka et al. 2020): synflowScores, data-free, 100 rounds. */
export const synflow: Criterion = {
  name: 'synflow',
  description: '|θ ⊙ ∂R/∂θ|, R = Σ f_|θ|(1) (Tanaka et al. 2020), iterative',
  needsData: false,
  defaultBnMode: 'eval',
  defaultIterations: 100,
  score: async ({ model, params, masks }) => ({ scores: (await synflowScores(model, params, masks)) as Scores }),
};
