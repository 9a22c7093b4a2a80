import { Rng } from '../../util/rng.ts';
import type { Criterion } from './types.ts';

export const random: Criterion = {
  name: 'random',
  description: 'i.i.d. uniform scores (seeded), global ranking',
  needsData: false,
  defaultBnMode: 'train',
  defaultIterations: 1,
  score: async ({ model, seed, round }) => {
    const rng = new Rng(seed).fork(round);
    return { scores: new Map(model.prunable.map((p) => [p.name, Float32Array.from({ length: p.size }, () => rng.next())])) };
  },
};
