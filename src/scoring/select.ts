import type { Model } from '../models/types.ts';
import { usage } from '../util/errors.ts';
import type { Masks } from '../masks/masks.ts';

export type Scope = 'global' | 'layer';

/** Keep-scores per prunable tensor (float64 where a composite key needs the precision, e.g. lottery). */
export type Scores = Map<string, Float32Array | Float64Array>;

export interface SelectOptions {
  /** Kept fraction of all prunable weights, in [0, 1]. */
  density: number;
  scope: Scope;
  /** No tensor keeps fewer than ceil(minLayerDensity · size) weights. */
  minLayerDensity?: number;
  /** Weights already pruned (0) cannot come back. */
  alive?: Masks;
  /** Named in error messages. */
  criterion?: string;
  /** Kept count per tensor (a layer allocation); overrides scope and the density's global ranking. */
  counts?: Map<string, number>;
}

/** NaN/±Inf scores are a bug or an overflow upstream: refuse them, naming the tensor. */
export function checkFinite(scores: Scores, criterion: string): void {
  for (const [name, s] of scores) {
    let bad = 0;
    for (let i = 0; i < s.length; i++) if (!Number.isFinite(s[i])) bad++;
    if (bad > 0) {
      usage(
        `criterion '${criterion}' produced ${bad} non-finite score(s) in tensor '${name}' (overflow or NaN upstream); check the model's initialization and inputs`,
      );
    }
  }
}

interface Candidate {
  name: string;
  scores: Float32Array | Float64Array;
  /** Candidate flags (alive and not yet chosen). */
  open: Uint8Array;
}

/**
 * Keeps exactly k of the open entries of `cands` with the highest scores; ties go to the lower flat
 * index (tensors in forward order, then row-major). Marks them in `keep` and closes them.
 */
function keepTop(cands: Candidate[], k: number, keep: Masks): void {
  if (k <= 0) return;
  let count = 0;
  for (const c of cands) for (let i = 0; i < c.open.length; i++) count += c.open[i];
  if (k > count) k = count;
  const values = new Float64Array(count);
  let j = 0;
  for (const c of cands) for (let i = 0; i < c.open.length; i++) if (c.open[i]) values[j++] = c.scores[i];
  values.sort();
  const threshold = values[count - k];
  let above = 0;
  for (let i = count - k; i < count; i++) if (values[i] > threshold) above++;
  let tiesLeft = k - above;
  for (const c of cands) {
    const bits = keep.get(c.name)!;
    for (let i = 0; i < c.open.length; i++) {
      if (!c.open[i]) continue;
      const v = c.scores[i];
      if (v > threshold || (v === threshold && tiesLeft-- > 0)) {
        bits[i] = 1;
        c.open[i] = 0;
      }
    }
  }
}

/** Exact-count masks from keep-scores (higher = keep). */
export function selectMasks(model: Model, scores: Scores, opts: SelectOptions): Masks {
  const { density, scope } = opts;
  if (!(density >= 0 && density <= 1)) throw new RangeError(`density must be in [0, 1], got ${density}`);
  checkFinite(scores, opts.criterion ?? 'scores');
  const keep: Masks = new Map(model.prunable.map((p) => [p.name, new Uint8Array(p.size)]));
  const cands: Candidate[] = model.prunable.map((p) => {
    const s = scores.get(p.name);
    if (!s || s.length !== p.size) throw new Error(`scores for '${p.name}' missing or of the wrong size`);
    const alive = opts.alive?.get(p.name);
    return { name: p.name, scores: s, open: alive ? Uint8Array.from(alive) : new Uint8Array(p.size).fill(1) };
  });
  const total = model.prunable.reduce((n, p) => n + p.size, 0);
  if (opts.counts) {
    cands.forEach((c) => keepTop([c], opts.counts!.get(c.name) ?? 0, keep));
    return keep;
  }
  if (scope === 'layer') {
    cands.forEach((c, i) => keepTop([c], Math.round(density * model.prunable[i].size), keep));
    return keep;
  }
  const k = Math.round(density * total);
  const floor = opts.minLayerDensity ?? 0;
  let guaranteed = 0;
  if (floor > 0) {
    cands.forEach((c, i) => {
      const g = Math.min(model.prunable[i].size, Math.ceil(floor * model.prunable[i].size));
      guaranteed += g;
      keepTop([c], g, keep);
    });
    if (guaranteed > k) {
      usage(`--min-layer-density ${floor} needs ${guaranteed} weights but density ${density} keeps ${k}; lower --min-layer-density or raise the density`);
    }
  }
  keepTop(cands, k - guaranteed, keep);
  return keep;
}

/** Geometric schedule: the density after round r (0-based) of R, ending exactly at `density`. */
export function roundDensity(density: number, round: number, rounds: number): number {
  return round === rounds - 1 ? density : density ** ((round + 1) / rounds);
}

/**
 * Per-tensor counts after round r of R on the way to `final`: each tensor shrinks geometrically toward
 * its own final count (n·(c/n)^((r+1)/R)), so a layer allocation chosen for the target density holds
 * at the end and no round asks a tensor to keep more than the previous one left alive.
 */
export function roundCounts(model: Model, final: Map<string, number>, round: number, rounds: number): Map<string, number> {
  if (round === rounds - 1) return new Map(final);
  return new Map(
    model.prunable.map((p) => {
      const c = final.get(p.name) ?? 0;
      return [p.name, Math.max(c, Math.round(p.size * (c / p.size) ** ((round + 1) / rounds)))];
    }),
  );
}
