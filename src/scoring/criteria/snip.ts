import { computeFeatures } from '../features.ts';
import type { Criterion } from './types.ts';

/** SNIP (Lee et al. 2019): connection sensitivity |θ ⊙ ∂L/∂θ|. */
export const snip: Criterion = {
  name: 'snip',
  description: '|θ ⊙ g| (Lee et al. 2019)',
  needsData: true,
  defaultBnMode: 'train',
  defaultIterations: 1,
  score: async ({ model, params, data, bnMode, masks }) => {
    const features = await computeFeatures(model, params, data!, { bnMode, temperature: 1, withHg: false, masks });
    const scores = new Map([...features.theta].map(([n, t]) => [n, Float32Array.from(t, (v, i) => Math.abs(v * features.grad.get(n)![i]))]));
    return { scores, features };
  },
};
