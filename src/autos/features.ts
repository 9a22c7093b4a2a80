import { usage } from '../util/errors.ts';

/** Per-weight inputs, each normalized per tensor (divided by its RMS over the tensor) so scales transfer. */
export const WEIGHT_FEATURES = ['theta', 'grad', 'hg', 'abs_theta', 'theta_grad', 'theta_hg'] as const;
/** Per-tensor descriptors, the same for every weight of a tensor. */
export const LAYER_FEATURES = ['kind', 'log_fan_in', 'log_fan_out', 'kernel_size', 'depth', 'log_size'] as const;
export type FeatureName = (typeof WEIGHT_FEATURES)[number] | (typeof LAYER_FEATURES)[number];
export const ALL_FEATURES: readonly FeatureName[] = [...WEIGHT_FEATURES, ...LAYER_FEATURES];
export const DEFAULT_FEATURES: FeatureName[] = ['theta', 'grad', 'hg', 'abs_theta', 'theta_grad', 'theta_hg', 'kind', 'log_fan_in', 'log_fan_out', 'depth'];

export interface LayerDescriptor {
  name: string;
  kind: 'conv' | 'dense';
  shape: number[];
  fan_in: number;
  fan_out: number;
  kernel_size: number;
  depth: number;
}

export interface TensorColumns {
  theta: Float32Array;
  grad: Float32Array;
  hg?: Float32Array;
}

export function parseFeatureList(list: string): FeatureName[] {
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) if (!(ALL_FEATURES as readonly string[]).includes(n)) usage(`unknown AutoS feature '${n}': choose from ${ALL_FEATURES.join(', ')}`);
  if (new Set(names).size !== names.length) usage(`--features lists a feature twice: ${list}`);
  if (names.length === 0) usage('--features is empty: list at least one feature');
  return names as FeatureName[];
}

export const needsHg = (features: readonly FeatureName[]) => features.some((f) => f === 'hg' || f === 'theta_hg');

function rmsNormalized(v: ArrayLike<number>, n: number, f: (i: number) => number): Float32Array {
  let s = 0;
  for (let i = 0; i < n; i++) s += f(i) ** 2;
  const scale = Math.sqrt(s / Math.max(1, n)) || 1;
  return Float32Array.from({ length: n }, (_, i) => f(i) / scale);
}

/** Row-major [size, features.length] matrix for one tensor. */
export function featureMatrix(cols: TensorColumns, layer: LayerDescriptor, features: readonly FeatureName[]): Float32Array {
  const n = cols.theta.length;
  const { theta, grad } = cols;
  const hg = cols.hg;
  if (needsHg(features) && !hg) usage(`AutoS features ${features.join(',')} need Hg, which this source lacks`);
  const column = (f: FeatureName): Float32Array | number => {
    switch (f) {
      case 'theta':
        return rmsNormalized(theta, n, (i) => theta[i]);
      case 'grad':
        return rmsNormalized(grad, n, (i) => grad[i]);
      case 'hg':
        return rmsNormalized(hg!, n, (i) => hg![i]);
      case 'abs_theta':
        return rmsNormalized(theta, n, (i) => Math.abs(theta[i]));
      case 'theta_grad':
        return rmsNormalized(theta, n, (i) => theta[i] * grad[i]);
      case 'theta_hg':
        return rmsNormalized(theta, n, (i) => theta[i] * hg![i]);
      case 'kind':
        return layer.kind === 'conv' ? 1 : 0;
      case 'log_fan_in':
        return Math.log(layer.fan_in) / 10;
      case 'log_fan_out':
        return Math.log(layer.fan_out) / 10;
      case 'kernel_size':
        return layer.kernel_size / 9;
      case 'depth':
        return layer.depth;
      case 'log_size':
        return Math.log(n) / 15;
    }
  };
  const out = new Float32Array(n * features.length);
  features.forEach((f, j) => {
    const c = column(f);
    for (let i = 0; i < n; i++) out[i * features.length + j] = typeof c === 'number' ? c : c[i];
  });
  return out;
}
