import { computeFeatures, type Features } from '../features.ts';
import type { Criterion } from './types.ts';

/** Keep-scores θ ⊙ Hg (GraSP) or |θ ⊙ Hg| (gradient-norm preservation) from computed features. */
export function thetaHgScores(features: Pick<Features, 'theta' | 'hg'>, abs: boolean): Map<string, Float32Array> {
  return new Map(
    [...features.theta].map(([n, t]) => {
      const hg = features.hg!.get(n)!;
      return [n, Float32Array.from(t, (v, i) => (abs ? Math.abs(v * hg[i]) : v * hg[i]))];
    }),
  );
}

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
  score: async ({ model, params, data, bnMode, masks, temperature }) => {
    const features = await computeFeatures(model, params, data!, { bnMode, temperature, withHg: true, masks });
    return { scores: thetaHgScores(features, false), features };
  },
};

/** Gradient-norm preservation (Lubana & Dick 2021; EarlyCroP's CroP): keep the largest |θ ⊙ Hg|. */
export const graspAbs: Criterion = {
  name: 'grasp-abs',
  description: 'keep the largest |θ ⊙ Hg| (Lubana & Dick 2021)',
  needsData: true,
  defaultBnMode: 'train',
  defaultIterations: 1,
  score: async ({ model, params, data, bnMode, masks, temperature }) => {
    const features = await computeFeatures(model, params, data!, { bnMode, temperature, withHg: true, masks });
    return { scores: thetaHgScores(features, true), features };
  },
};
