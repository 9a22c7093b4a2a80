/** Average ranks (ties share the mean rank), 0-based. */
function ranks(v: ArrayLike<number>): Float64Array {
  const n = v.length;
  const idx = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => v[a] - v[b]);
  const r = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && v[idx[j + 1]] === v[idx[i]]) j++;
    for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2;
    i = j + 1;
  }
  return r;
}

export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const n = ra.length;
  const ma = ra.reduce((s, v) => s + v, 0) / n;
  const mb = rb.reduce((s, v) => s + v, 0) / n;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < n; i++) {
    num += (ra[i] - ma) * (rb[i] - mb);
    da += (ra[i] - ma) ** 2;
    db += (rb[i] - mb) ** 2;
  }
  return da > 0 && db > 0 ? num / Math.sqrt(da * db) : 0;
}

/**
 * Share of the predicted top-k (k = round(density·n), ties to the lower index) that truly survived at
 * least as long as the k-th longest survivor.
 */
export function precisionAtDensity(pred: ArrayLike<number>, truth: ArrayLike<number>, density: number): number {
  const n = pred.length;
  const k = Math.max(1, Math.round(density * n));
  const byPred = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => pred[b] - pred[a] || a - b);
  const sortedTruth = Float64Array.from(truth).sort();
  const level = sortedTruth[n - k];
  let hits = 0;
  for (let i = 0; i < k; i++) if (truth[byPred[i]] >= level) hits++;
  return hits / k;
}

export function mse(pred: ArrayLike<number>, truth: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < pred.length; i++) s += (pred[i] - truth[i]) ** 2;
  return s / pred.length;
}

export const PRECISION_DENSITIES = [0.1, 0.05, 0.02, 0.01];

export interface RankingMetrics {
  n: number;
  mse: number;
  /** Over all weights pooled: ranks across tensors too (what a global threshold uses). */
  spearman: number;
  /**
   * Mean over tensors of the Spearman ρ inside each (every tensor weighs the same): the ranking a
   * per-layer allocation (synflow's counts, say) uses. Tensors whose labels are all equal are skipped.
   */
  tensor_spearman?: number;
  precision: Record<string, number>;
}

/** `sizes`: the lengths of the consecutive tensors pred and truth are made of (for tensor_spearman). */
export function rankingMetrics(pred: ArrayLike<number>, truth: ArrayLike<number>, extraDensities: number[] = [], sizes?: number[]): RankingMetrics {
  const precision: Record<string, number> = {};
  for (const d of [...PRECISION_DENSITIES, ...extraDensities]) precision[String(d)] = precisionAtDensity(pred, truth, d);
  const out: RankingMetrics = { n: pred.length, mse: mse(pred, truth), spearman: spearman(pred, truth), precision };
  if (sizes) {
    const rhos: number[] = [];
    let o = 0;
    for (const n of sizes) {
      const t = Array.prototype.slice.call(truth, o, o + n) as number[];
      if (t.some((v) => v !== t[0])) rhos.push(spearman(Array.prototype.slice.call(pred, o, o + n) as number[], t));
      o += n;
    }
    out.tensor_spearman = rhos.length ? rhos.reduce((a, b) => a + b, 0) / rhos.length : 0;
  }
  return out;
}
