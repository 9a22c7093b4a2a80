import { percentiles } from '../scoring/autos/features.ts';
import type { SourceTensor } from '../scoring/autos/source.ts';

/**
 * The data of AutoSparse's Figure 1, binned so that it stays readable at any table size: for each
 * source, layer kind and handcrafted score at θ₀, the mean survival score (rounds_survived / E) of the
 * weights in each of `BINS` equal-count bins of that score's percentile within its tensor. A score that
 * predicts survival rises from left to right; a flat curve carries no information.
 */
export const CURVE_BINS = 20;

/** The handcrafted keep-scores at θ₀ that AutoS is measured against (fit metrics and these curves). */
export const HANDCRAFTED_SCORES = {
  magnitude: { label: '|θ₀|', needsHg: false, score: (t: SourceTensor, i: number) => Math.abs(t.theta[i]) },
  snip: { label: '|θ₀·g| (SNIP)', needsHg: false, score: (t: SourceTensor, i: number) => Math.abs(t.theta[i] * t.grad[i]) },
  grasp: { label: 'θ₀·Hg (GraSP)', needsHg: true, score: (t: SourceTensor, i: number) => t.theta[i] * t.hg![i] },
} as const;

export interface CurvePoint {
  /** Bin centre on the within-tensor percentile axis, in (0, 1). */
  q: number;
  /** Mean survival score of the bin's weights. */
  survival: number;
  n: number;
}

export interface SurvivalCurve {
  /** Source label (architecture, or the table's file). */
  source: string;
  /** Layer kind of the weights binned ('all' for a held-out architecture's prediction). */
  kind: 'conv' | 'dense' | 'all';
  score: string;
  points: CurvePoint[];
}

/**
 * Accumulates (percentile, survival) pairs of one tensor at a time into equal-width percentile bins; a
 * curve is the mean over tensors of each tensor's bin means, so every tensor weighs the same whatever
 * its size (as with the rank target) and a curve that rises in every tensor rises pooled.
 */
function binner() {
  const sum = new Float64Array(CURVE_BINS);
  const tensors = new Float64Array(CURVE_BINS);
  const weights = new Float64Array(CURVE_BINS);
  let tsum = new Float64Array(CURVE_BINS);
  let tcount = new Float64Array(CURVE_BINS);
  const flush = () => {
    for (let b = 0; b < CURVE_BINS; b++) {
      if (!tcount[b]) continue;
      sum[b] += tsum[b] / tcount[b];
      tensors[b]++;
      weights[b] += tcount[b];
    }
    tsum = new Float64Array(CURVE_BINS);
    tcount = new Float64Array(CURVE_BINS);
  };
  return {
    add(q: number, y: number) {
      const b = Math.min(CURVE_BINS - 1, Math.floor(q * CURVE_BINS));
      tsum[b] += y;
      tcount[b]++;
    },
    endTensor: flush,
    points(): CurvePoint[] {
      flush();
      const out: CurvePoint[] = [];
      for (let b = 0; b < CURVE_BINS; b++) if (tensors[b]) out.push({ q: (b + 0.5) / CURVE_BINS, survival: sum[b] / tensors[b], n: weights[b] });
      return out;
    },
  };
}

/** Survival against each handcrafted score's within-tensor percentile, per source and layer kind. */
export function survivalCurves(source: string, tensors: SourceTensor[]): SurvivalCurve[] {
  const out: SurvivalCurve[] = [];
  for (const kind of ['conv', 'dense'] as const) {
    const ofKind = tensors.filter((t) => t.layer.kind === kind);
    if (!ofKind.length) continue;
    for (const { label: score, needsHg, score: f } of Object.values(HANDCRAFTED_SCORES)) {
      if (needsHg && !ofKind.every((t) => t.hg)) continue;
      const bins = binner();
      for (const t of ofKind) {
        const q = percentiles(Float32Array.from(t.theta, (_, i) => f(t, i)));
        for (let i = 0; i < q.length; i++) bins.add(q[i], t.y[i]);
        bins.endTensor();
      }
      out.push({ source, kind, score, points: bins.points() });
    }
  }
  return out;
}

export const CURVES_FILE = 'survival-curves.json';

/**
 * Calibration of a held-out prediction: weights binned by the prediction's within-tensor percentile,
 * each bin's mean true survival (and, for comparison, the same for |θ₀|).
 */
export function predictionCurves(source: string, tensors: SourceTensor[], predicted: Float32Array): SurvivalCurve[] {
  const autos = binner();
  const magnitude = binner();
  let o = 0;
  for (const t of tensors) {
    const p = percentiles(predicted.subarray(o, o + t.y.length));
    const m = percentiles(Float32Array.from(t.theta, Math.abs));
    for (let i = 0; i < p.length; i++) {
      autos.add(p[i], t.y[i]);
      magnitude.add(m[i], t.y[i]);
    }
    autos.endTensor();
    magnitude.endTensor();
    o += t.y.length;
  }
  return [
    { source, kind: 'all', score: 'AutoS (held out)', points: autos.points() },
    { source, kind: 'all', score: '|θ₀|', points: magnitude.points() },
  ];
}
