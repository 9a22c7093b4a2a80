import { computeFeatures } from '../features.ts';
import { thetaHgScores } from './grasp.ts';
import type { Criterion } from './types.ts';

/**
 * CroP (EarlyCroP, Rachwan et al. 2022): keep the largest |θ ⊙ Hg| with no temperature, BN in eval mode,
 * pruning stepwise toward the target and re-scoring the masked net at each step (5 steps by default).
 */
export const crop: Criterion = {
  name: 'crop',
  description: '|θ ⊙ Hg|, T = 1, BN eval, stepwise re-scoring (EarlyCroP)',
  needsData: true,
  defaultBnMode: 'eval',
  defaultIterations: 5,
  score: async ({ model, params, data, bnMode, masks }) => {
    const features = await computeFeatures(model, params, data!, { bnMode, temperature: 1, withHg: true, masks });
    return { scores: thetaHgScores(features, true), features };
  },
};
