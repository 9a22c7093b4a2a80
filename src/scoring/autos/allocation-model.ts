import fs from 'node:fs';
import path from 'node:path';
import { writeJsonAtomic } from '../../io/atomic.ts';
import type { Model, PrunableTensor } from '../../models/types.ts';
import { countsFromSizes } from '../allocation.ts';
import { usage } from '../../util/errors.ts';
import { readJsonFile } from '../../util/json-text.ts';
import type { LayerDescriptor } from './features.ts';
import type { SourceTable } from './source.ts';
import { type AllocationFeature, ALLOCATION_FEATURES } from './allocation-features.ts';

/**
 * Learned layer allocation: logit(density of a layer) regressed (ridge, closed form, float64) on
 * descriptors that exist for any architecture, fitted on the per-layer density curves of IRP survival
 * tables (a weight with rounds_survived ≥ r+1 was alive after round r).
 */
export {
  ALLOCATION_FEATURES,
  type AllocationFeature,
  DEFAULT_ALLOCATION_FEATURES,
  DEFAULT_ALLOCATION_LAMBDA,
  parseAllocationFeatures,
} from './allocation-features.ts';
export const ALLOCATION_FORMAT = 'pipeline-autos-allocation-v1';
/** Densities are clipped to [CLIP, 1 − CLIP] before the logit. */
export const CLIP = 1e-4;

export const logit = (d: number) => {
  const c = Math.min(1 - CLIP, Math.max(CLIP, d));
  return Math.log(c / (1 - c));
};
export const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** What the model needs to know about one prunable tensor. */
export interface LayerInfo {
  name: string;
  kind: 'conv' | 'dense';
  size: number;
  fan_in: number;
  fan_out: number;
  kernel_size: number;
  depth: number;
}

export const layerInfoOfDescriptor = (d: LayerDescriptor): LayerInfo => ({
  name: d.name,
  kind: d.kind,
  size: d.shape.reduce((a, b) => a * b, 1),
  fan_in: d.fan_in,
  fan_out: d.fan_out,
  kernel_size: d.kernel_size,
  depth: d.depth,
});

export const layerInfoOf = (p: PrunableTensor): LayerInfo => ({
  name: p.name,
  kind: p.kind,
  size: p.size,
  fan_in: p.fanIn,
  fan_out: p.fanOut,
  kernel_size: p.kernelSize,
  depth: p.depth,
});

export const layerInfoOfModel = (model: Model): LayerInfo[] => model.prunable.map(layerInfoOf);

/** Feature rows (one per layer) of a net at global density `global`. */
export function allocationRows(layers: readonly LayerInfo[], global: number, features: readonly AllocationFeature[]): number[][] {
  const total = layers.reduce((s, l) => s + l.size, 0);
  const maxDepth = Math.max(...layers.map((l) => l.depth));
  return layers.map((l) =>
    features.map((f) => {
      switch (f) {
        case 'bias':
          return 1;
        case 'logit_global':
          return logit(global);
        case 'log_fan_in':
          return Math.log(l.fan_in);
        case 'log_fan_out':
          return Math.log(l.fan_out);
        case 'log_kernel':
          return Math.log(l.kernel_size);
        case 'kind':
          return l.kind === 'conv' ? 1 : 0;
        case 'rel_depth':
          return maxDepth > 0 ? l.depth / maxDepth : 0;
        case 'log_size_share':
          return Math.log(l.size / total);
      }
    }),
  );
}

/** One table's per-layer density curves: density[r][l] after round r, and the global density after round r. */
export interface DensityCurve {
  source: string;
  architecture: string;
  layers: LayerInfo[];
  global: number[];
  density: number[][];
}

/** Architecture of a survival table: its `model` metadata, with `-w<width>` when a width is recorded. */
export function architectureOf(metadata: Map<string, string>): string {
  const model = metadata.get('model') ?? 'unknown';
  const width = metadata.get('width');
  return width !== undefined && width !== '' && width !== 'null' ? `${model}-w${width}` : model;
}

/** Per-layer and global densities after every round, counted from rounds_survived. */
export function densityCurve(table: SourceTable): DensityCurve {
  const rounds = Number(table.metadata.get('rounds') ?? JSON.parse(table.metadata.get('densities') ?? '[]').length);
  if (!(rounds >= 1)) usage(`${table.path}: no 'rounds' or 'densities' metadata; pass a survival table from 'pipeline irp'`);
  const layers = table.tensors.map((t) => layerInfoOfDescriptor(t.layer));
  const total = layers.reduce((s, l) => s + l.size, 0);
  const density: number[][] = [];
  const global: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const kept = table.tensors.map((t) => {
      let n = 0;
      for (let i = 0; i < t.rounds.length; i++) if (t.rounds[i] >= r + 1) n++;
      return n;
    });
    density.push(kept.map((k, l) => k / layers[l].size));
    global.push(kept.reduce((a, b) => a + b, 0) / total);
  }
  return { source: table.path, architecture: architectureOf(table.metadata), layers, global, density };
}

/**
 * Weighted ridge least squares in float64: minimizes Σ w_i (x_i·β − y_i)² + λ Σ_{j≠bias} β_j², by the
 * normal equations and Gaussian elimination with partial pivoting. `penalize[j]` false leaves β_j free.
 */
export function ridge(x: readonly number[][], y: readonly number[], weights: readonly number[], lambda: number, penalize: readonly boolean[]): number[] {
  const p = penalize.length;
  const a = Array.from({ length: p }, () => new Float64Array(p + 1));
  x.forEach((row, i) => {
    for (let j = 0; j < p; j++) {
      for (let k = 0; k < p; k++) a[j][k] += weights[i] * row[j] * row[k];
      a[j][p] += weights[i] * row[j] * y[i];
    }
  });
  for (let j = 0; j < p; j++) if (penalize[j]) a[j][j] += lambda;
  for (let c = 0; c < p; c++) {
    let piv = c;
    for (let r = c + 1; r < p; r++) if (Math.abs(a[r][c]) > Math.abs(a[piv][c])) piv = r;
    [a[c], a[piv]] = [a[piv], a[c]];
    if (Math.abs(a[c][c]) < 1e-300) {
      a[c][c] = 1; // a column that is all zero (never varied, unpenalized): its coefficient stays 0
      for (let k = c + 1; k <= p; k++) a[c][k] = 0;
    }
    for (let r = 0; r < p; r++) {
      if (r === c) continue;
      const f = a[r][c] / a[c][c];
      if (f !== 0) for (let k = c; k <= p; k++) a[r][k] -= f * a[c][k];
    }
  }
  return Array.from({ length: p }, (_, j) => a[j][p] / a[j][j]);
}

export interface AllocationFit {
  features: AllocationFeature[];
  lambda: number;
  coefficients: number[];
}

/** Fits on every (table, layer, round); each table weighs the same whatever its layer and round count. */
export function fitAllocation(curves: readonly DensityCurve[], features: readonly AllocationFeature[], lambda: number): AllocationFit {
  const x: number[][] = [];
  const y: number[] = [];
  const w: number[] = [];
  for (const c of curves) {
    const n = c.global.length * c.layers.length;
    c.global.forEach((g, r) => {
      allocationRows(c.layers, g, features).forEach((row, l) => {
        x.push(row);
        y.push(logit(c.density[r][l]));
        w.push(1 / n);
      });
    });
  }
  if (!x.length) usage('the allocation model needs at least one survival table with layers');
  const coefficients = ridge(
    x,
    y,
    w,
    lambda,
    features.map((f) => f !== 'bias'),
  );
  return { features: [...features], lambda, coefficients };
}

/** Predicted per-layer densities d̂_l = sigmoid(x_l·β) at global density `global` (before meeting the budget). */
export function predictDensities(fit: Pick<AllocationFit, 'features' | 'coefficients'>, layers: readonly LayerInfo[], global: number): number[] {
  return allocationRows(layers, global, fit.features).map((row) => sigmoid(row.reduce((s, v, j) => s + v * fit.coefficients[j], 0)));
}

export interface AllocationError {
  /** Root mean square of predicted − true logit(layer density), over layers and rounds. */
  rmse_logit: number;
  /**
   * Share of the kept weights put in the wrong layer once the shares meet the budget: Σ_l |k̂_l − k_l| / 2k,
   * mean over rounds, and at the last round; with the same for `layer` (one density for every tensor) and
   * `erk` allocations as baselines.
   */
  misallocated: number;
  misallocated_final: number;
  misallocated_layer: number;
  misallocated_layer_final: number;
  misallocated_erk: number;
  misallocated_erk_final: number;
  rounds: number;
  layers: number;
}

function misallocation(curve: DensityCurve, r: number, share: (l: number) => number): number {
  const sizes = curve.layers.map((l) => l.size);
  const truth = sizes.map((s, l) => Math.round(curve.density[r][l] * s));
  const k = truth.reduce((a, b) => a + b, 0);
  if (k === 0) return 0;
  const pred = countsFromSizes(sizes, k, share);
  return pred.reduce((s, v, l) => s + Math.abs(v - truth[l]), 0) / (2 * k);
}

/** Errors of a fit on one table's curves. */
export function allocationError(fit: Pick<AllocationFit, 'features' | 'coefficients'>, curve: DensityCurve): AllocationError {
  let se = 0;
  let n = 0;
  const mis: number[] = [];
  const misLayer: number[] = [];
  const misErk: number[] = [];
  const erk = curve.layers.map((l) => {
    // ERK density ∝ (Σ dims)/(Π dims): for a conv, kh + kw + cin + cout with kh = kw = √kernel.
    const kh = Math.sqrt(l.kernel_size);
    const cin = l.fan_in / l.kernel_size;
    const cout = l.fan_out / l.kernel_size;
    return l.kind === 'conv' ? 2 * kh + cin + cout : cin + cout;
  });
  curve.global.forEach((g, r) => {
    const d = predictDensities(fit, curve.layers, g);
    d.forEach((v, l) => {
      se += (logit(v) - logit(curve.density[r][l])) ** 2;
      n++;
    });
    mis.push(misallocation(curve, r, (l) => curve.layers[l].size * d[l]));
    misLayer.push(misallocation(curve, r, (l) => curve.layers[l].size));
    misErk.push(misallocation(curve, r, (l) => erk[l]));
  });
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  return {
    rmse_logit: Math.sqrt(se / n),
    misallocated: mean(mis),
    misallocated_final: mis[mis.length - 1],
    misallocated_layer: mean(misLayer),
    misallocated_layer_final: misLayer[misLayer.length - 1],
    misallocated_erk: mean(misErk),
    misallocated_erk_final: misErk[misErk.length - 1],
    rounds: curve.global.length,
    layers: curve.layers.length,
  };
}

/** Error of each architecture's tables under a fit on every other architecture's tables. */
export function leaveOneArchitectureOut(
  curves: readonly DensityCurve[],
  features: readonly AllocationFeature[],
  lambda: number,
): Record<string, AllocationError> {
  const archs = [...new Set(curves.map((c) => c.architecture))];
  const out: Record<string, AllocationError> = {};
  if (archs.length < 2) return out;
  for (const a of archs) {
    const fit = fitAllocation(
      curves.filter((c) => c.architecture !== a),
      features,
      lambda,
    );
    out[a] = meanError(curves.filter((c) => c.architecture === a).map((c) => allocationError(fit, c)));
  }
  return out;
}

/** Field-wise mean of several tables' errors (one architecture's seeds). */
export function meanError(errors: AllocationError[]): AllocationError {
  const keys = Object.keys(errors[0]) as Array<keyof AllocationError>;
  return Object.fromEntries(keys.map((k) => [k, errors.reduce((s, e) => s + e[k], 0) / errors.length])) as unknown as AllocationError;
}

/** allocation.json in an AutoS model dir. */
export interface AllocationFile extends AllocationFit {
  format: string;
  target: string;
  clip: number;
  sources: string[];
  architectures: string[];
  /** Leave-one-architecture-out error per architecture (empty with one architecture). */
  held_out: Record<string, AllocationError>;
  /** The fit's error on its own tables. */
  train_error: AllocationError;
}

export function saveAllocation(dir: string, file: AllocationFile): void {
  writeJsonAtomic(path.join(dir, 'allocation.json'), file);
}

/** Reads allocation.json, or a one-line usage error naming the fix. */
export function loadAllocation(dir: string): AllocationFile {
  const file = path.join(dir, 'allocation.json');
  if (!fs.existsSync(file))
    usage(
      `--allocation learned: ${dir} has no allocation.json (fitted before learned allocation existed); refit it with 'pipeline fit-autos', or use --allocation survival`,
    );
  const a = readJsonFile(file, "refit with 'pipeline fit-autos'") as AllocationFile;
  if (a?.format !== ALLOCATION_FORMAT) usage(`${file} has format '${a?.format}', expected ${ALLOCATION_FORMAT}; refit with 'pipeline fit-autos'`);
  const ok =
    Array.isArray(a.features) &&
    a.features.every((f) => (ALLOCATION_FEATURES as readonly string[]).includes(f)) &&
    Array.isArray(a.coefficients) &&
    a.coefficients.length === a.features.length &&
    a.coefficients.every((c) => Number.isFinite(c));
  if (!ok) usage(`${file} lacks finite coefficients for known features (${ALLOCATION_FEATURES.join(', ')}); refit with 'pipeline fit-autos'`);
  return a;
}
