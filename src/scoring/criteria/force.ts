import { computeFeatures } from '../features.ts';
import type { Criterion } from './types.ts';

/**
 * FORCE (de Jorge et al. 2021): every round scores every weight by |θ₀ ⊙ ∂L/∂θ̄|, the gradient taken at
 * the masked network θ̄ = θ₀ ⊙ m but multiplied by the weight's initial value, so a pruned weight can
 * come back when its gradient grows. Exponential schedule, 60 rounds (the authors' CIFAR command).
 */
export const force: Criterion = {
  name: 'force',
  description: '|θ₀ ⊙ ∂L/∂θ̄| at the masked net, 60 rounds, pruned weights may return (de Jorge et al. 2021)',
  needsData: true,
  defaultBnMode: 'train',
  defaultIterations: 60,
  regrows: true,
  score: async ({ model, params, data, bnMode, masks }) => {
    const features = await computeFeatures(model, params, data!, { bnMode, temperature: 1, withHg: false, masks });
    const theta0 = await Promise.all(model.prunable.map((p) => params[p.name].data() as Promise<Float32Array>));
    const scores = new Map(model.prunable.map((p, k) => [p.name, Float32Array.from(theta0[k], (v, i) => Math.abs(v * features.grad.get(p.name)![i]))]));
    return { scores, features };
  },
};
