import type { Criterion } from './types.ts';

export const magnitude: Criterion = {
  name: 'magnitude',
  description: '|θ|',
  needsData: false,
  defaultBnMode: 'train',
  defaultIterations: 1,
  score: async ({ model, params, masks }) => {
    const ws = (await Promise.all(model.prunable.map((p) => params[p.name].data()))) as Float32Array[];
    return {
      scores: new Map(
        model.prunable.map((p, k) => {
          const bits = masks?.get(p.name);
          return [p.name, Float32Array.from(ws[k], (v, i) => (bits && !bits[i] ? 0 : Math.abs(v)))];
        }),
      ),
    };
  },
};
