import type { Criterion } from './types.ts';

export const magnitude: Criterion = {
  name: 'magnitude',
  description: '|θ|',
  needsData: false,
  defaultBnMode: 'train',
  defaultIterations: 1,
  score: ({ model, params, masks }) => ({
    scores: new Map(
      model.prunable.map((p) => {
        const w = params[p.name].dataSync() as Float32Array;
        const bits = masks?.get(p.name);
        return [p.name, Float32Array.from(w, (v, i) => (bits && !bits[i] ? 0 : Math.abs(v)))];
      }),
    ),
  }),
};
