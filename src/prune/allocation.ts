import type { Model } from '../models/types.ts';
import { usage } from '../util/errors.ts';

/**
 * Per-tensor kept counts that sum exactly to k = round(density·N), from per-tensor weights ("how much
 * each layer deserves"), capped at the tensor size, with largest-remainder rounding.
 */
export function countsFromShares(model: Model, density: number, share: (i: number) => number): Map<string, number> {
  const sizes = model.prunable.map((p) => p.size);
  const k = Math.round(density * sizes.reduce((a, b) => a + b, 0));
  const counts = new Array<number>(sizes.length).fill(0);
  const capped = new Array<boolean>(sizes.length).fill(false);
  let left = k;
  // Water-filling: tensors whose share would exceed their size are filled and removed from the pool.
  for (let pass = 0; pass < sizes.length && left > 0; pass++) {
    const open = sizes.map((_, i) => i).filter((i) => !capped[i]);
    const total = open.reduce((s, i) => s + Math.max(0, share(i)), 0);
    if (total <= 0) break;
    const over = open.filter((i) => (Math.max(0, share(i)) / total) * left >= sizes[i] - counts[i]);
    if (over.length === 0) {
      const exact = open.map((i) => (Math.max(0, share(i)) / total) * left);
      const floors = exact.map(Math.floor);
      let rest = left - floors.reduce((a, b) => a + b, 0);
      const order = open.map((_, j) => j).sort((a, b) => exact[b] - floors[b] - (exact[a] - floors[a]) || a - b);
      open.forEach((i, j) => (counts[i] += floors[j]));
      for (const j of order) {
        if (rest <= 0) break;
        if (counts[open[j]] < sizes[open[j]]) {
          counts[open[j]]++;
          rest--;
        }
      }
      left = 0;
      break;
    }
    for (const i of over) {
      left -= sizes[i] - counts[i];
      counts[i] = sizes[i];
      capped[i] = true;
    }
  }
  return new Map(model.prunable.map((p, i) => [p.name, counts[i]]));
}

/**
 * Erdős–Rényi-Kernel densities (Evci et al. 2020): density_l ∝ (Σ dims)/(Π dims) of the tensor
 * ([kh, kw, cin, cout] for convs, [in, out] for dense), scaled to the global budget.
 */
export function erkCounts(model: Model, density: number): Map<string, number> {
  return countsFromShares(model, density, (i) => {
    const shape = model.prunable[i].shape;
    const size = model.prunable[i].size;
    return (shape.reduce((a, b) => a + b, 0) / size) * size; // density share × size
  });
}

export const ALLOCATIONS = ['global', 'layer', 'erk', 'learned'] as const;

export function checkAllocation(name: string, criteria: string[]): void {
  if ((ALLOCATIONS as readonly string[]).includes(name) || criteria.includes(name)) return;
  usage(`unknown allocation '${name}': choose global, layer, erk, learned or a criterion (${criteria.join(', ')})`);
}
