import { computeFeatures } from '../features.ts';
import type { Criterion } from './types.ts';

/**
 * GraSP (Wang et al. 2020): S = −θ ⊙ Hg with logits/T (T = 200); the weights with the largest S are
 * removed, i.e. keep-score = θ ⊙ Hg.
 */
export const grasp: Criterion = {
  name: 'grasp',
  description: 'remove the largest −θ ⊙ Hg, logits/T (Wang et al. 2020)',
  needsData: true,
  defaultBnMode: 'train',
  defaultIterations: 1,
  score: ({ model, params, data, bnMode, masks, temperature }) => {
    const features = computeFeatures(model, params, data!, { bnMode, temperature, withHg: true, masks });
    const scores = new Map([...features.theta].map(([n, t]) => [n, Float32Array.from(t, (v, i) => v * features.hg!.get(n)![i])]));
    return { scores, features };
  },
};

/** Gradient-norm preservation (Lubana & Dick 2021; EarlyCroP's CroP): keep the largest |θ ⊙ Hg|. */
export const graspAbs: Criterion = {
  name: 'grasp-abs',
  description: 'keep the largest |θ ⊙ Hg| (Lubana & Dick 2021)',
  needsData: true,
  defaultBnMode: 'train',
  defaultIterations: 1,
  score: (input) => {
    const { scores, features } = grasp.score(input);
    for (const s of scores.values()) for (let i = 0; i < s.length; i++) s[i] = Math.abs(s[i]);
    return { scores, features };
  },
};
