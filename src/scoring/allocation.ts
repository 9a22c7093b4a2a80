import type { Model, PrunableTensor } from '../models/types.ts';
import { usage } from '../util/errors.ts';

/**
 * Per-tensor kept counts that sum exactly to k, from per-tensor weights ("how much each layer
 * deserves"): count_i = clamp(c·share_i, floor_i, size_i) with the one c that meets the budget (a tensor
 * whose share would take it past a bound sits at that bound and the others share the rest), then
 * largest-remainder rounding (ties to the earlier tensor). A tensor with no share keeps its floor. When
 * Σ floor > k every tensor keeps its floor; when the shares cannot reach k (too few tensors with a
 * share), the sum falls short.
 */
export function countsFromSizes(sizes: readonly number[], k: number, share: (i: number) => number, floors?: readonly number[]): number[] {
  const n = sizes.length;
  const lo = sizes.map((s, i) => Math.min(s, Math.max(0, floors?.[i] ?? 0)));
  const w = sizes.map((_, i) => Math.max(0, share(i)));
  const free = (i: number) => w[i] > 0 && lo[i] < sizes[i];
  const at = (c: number) => sizes.reduce((s, size, i) => s + (free(i) ? Math.min(size, Math.max(lo[i], c * w[i])) : lo[i]), 0);
  // Breakpoints of the piecewise-linear, non-decreasing budget curve at(c).
  const cuts = [...new Set(sizes.flatMap((size, i) => (free(i) ? [lo[i] / w[i], size / w[i]] : [])))].sort((a, b) => a - b);
  const counts = lo.slice();
  if (!cuts.length || at(0) >= k) return counts;
  const last = cuts[cuts.length - 1];
  if (at(last) <= k) return sizes.map((size, i) => (free(i) ? size : lo[i]));
  let prev = 0;
  for (const c of cuts) {
    if (at(c) >= k) break;
    prev = c;
  }
  const next = cuts.find((c) => c > prev && at(c) >= k)!;
  const mid = (prev + next) / 2;
  // In (prev, next] the tensors between their bounds share what the bounded ones leave.
  const open: number[] = [];
  let left = k;
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (free(i) && mid * w[i] > lo[i] && mid * w[i] < sizes[i]) {
      open.push(i);
      total += w[i];
    } else {
      counts[i] = free(i) && mid * w[i] >= sizes[i] ? sizes[i] : lo[i];
      left -= counts[i];
    }
  }
  const exact = open.map((i) => (w[i] / total) * left);
  const whole = exact.map(Math.floor);
  let rest = left - whole.reduce((a, b) => a + b, 0);
  open.forEach((i, j) => (counts[i] = whole[j]));
  const order = open.map((_, j) => j).sort((a, b) => exact[b] - whole[b] - (exact[a] - whole[a]) || a - b);
  for (const j of order) {
    if (rest <= 0) break;
    if (counts[open[j]] < sizes[open[j]]) {
      counts[open[j]]++;
      rest--;
    }
  }
  return counts;
}

/** The budget k = round(density·N) of a model's prunable weights. */
export const budgetOf = (model: Model, density: number) => Math.round(density * model.prunable.reduce((a, p) => a + p.size, 0));

/** Refuses a density whose budget rounds to no weight at all (the pruned net would compute nothing). */
export function checkKeepsSome(model: Model, density: number): void {
  if (budgetOf(model, density) >= 1) return;
  const total = model.prunable.reduce((a, p) => a + p.size, 0);
  usage(
    `density ${density} keeps no weight of ${model.config.name}'s ${total} prunable weights: use a density of at least ${(1 / total).toPrecision(3)} (one weight)`,
  );
}

/**
 * The least a tensor must keep to pass signal: one weight per unit on its wider side, i.e.
 * min(size, max(units in, units out)), units = input/output channels of a conv ([kh, kw, cin, cout]) or
 * neurons of a dense layer ([in, out]).
 */
export function signalFloor(p: Pick<PrunableTensor, 'shape' | 'size'>): number {
  const s = p.shape;
  return Math.min(p.size, Math.max(s[s.length - 2] ?? 1, s[s.length - 1] ?? 1));
}

/** Refuses a density whose budget cannot give every tensor its signal floor. */
export function checkSignalFloor(model: Model, density: number, what: string): number[] {
  const floors = model.prunable.map(signalFloor);
  const need = floors.reduce((a, b) => a + b, 0);
  const k = budgetOf(model, density);
  if (need > k)
    usage(
      `${what}: the signal floor (≥ max(units in, units out) weights per layer) needs ${need} weights but density ${density} keeps ${k}; raise the density`,
    );
  return floors;
}

/**
 * Per-tensor kept counts that sum exactly to k = round(density·N), ∝ `share` (how much each layer
 * deserves in total), capped at the tensor size, and with `floor` at least its signal floor.
 */
export function countsFromShares(model: Model, density: number, share: (i: number) => number, opts: { floor?: boolean } = {}): Map<string, number> {
  const sizes = model.prunable.map((p) => p.size);
  const floors = opts.floor ? checkSignalFloor(model, density, 'allocation') : undefined;
  const counts = countsFromSizes(sizes, budgetOf(model, density), share, floors);
  return new Map(model.prunable.map((p, i) => [p.name, counts[i]]));
}

/**
 * Erdős–Rényi-Kernel densities (Evci et al. 2020): density_l ∝ (Σ dims)/(Π dims) of the tensor
 * ([kh, kw, cin, cout] for convs, [in, out] for dense), scaled to the global budget.
 */
export function erkCounts(model: Model, density: number, opts: { floor?: boolean } = {}): Map<string, number> {
  return countsFromShares(
    model,
    density,
    (i) => {
      const shape = model.prunable[i].shape;
      const size = model.prunable[i].size;
      return (shape.reduce((a, b) => a + b, 0) / size) * size; // density share × size
    },
    opts,
  );
}

/**
 * global: one threshold; layer: the same fraction per tensor; erk; learned: per-layer densities predicted
 * from layer descriptors by the AutoS model dir's allocation.json (with the signal floor); survival: ∝ the
 * AutoS scorer's predicted survival summed over the layer; or a criterion name (its per-layer counts).
 */
export const ALLOCATIONS = ['global', 'layer', 'erk', 'learned', 'survival'] as const;

export function checkAllocation(name: string, criteria: string[]): void {
  if ((ALLOCATIONS as readonly string[]).includes(name) || criteria.includes(name)) return;
  usage(`unknown allocation '${name}': choose global, layer, erk, learned, survival or a criterion (${criteria.join(', ')})`);
}
