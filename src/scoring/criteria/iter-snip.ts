import { snip } from './snip.ts';
import type { Criterion } from './types.ts';

/**
 * Iter-SNIP (de Jorge et al. 2021, "Progressive Skeletonization"): SNIP re-scored on the masked network
 * over an exponential schedule, pruned weights staying pruned. It is exactly `snip#k` (same scores, same
 * rounds d^((r+1)/k)); only the default rounds differ: 60, the authors' CIFAR command.
 */
export const iterSnip: Criterion = {
  ...snip,
  name: 'iter-snip',
  description: '|θ̄ ⊙ ∂L/∂θ̄| at the masked net θ̄ = θ ⊙ m, 60 rounds, pruned stay pruned (de Jorge et al. 2021)',
  defaultIterations: 60,
};
