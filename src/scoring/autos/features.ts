import { usage } from '../../util/errors.ts';

/** Per-weight inputs, each normalized per tensor (divided by its RMS over the tensor) so scales transfer. */
export const WEIGHT_FEATURES = ['theta', 'grad', 'hg', 'abs_theta', 'theta_grad', 'theta_hg'] as const;
/**
 * Per-tensor percentiles (0..1, ties averaged) of |θ|, |θ ⊙ g|, |θ ⊙ Hg| and SynFlow's data-free path
 * score |θ ⊙ ∂R/∂θ| (of the dense net in a source, of the masked net in each round on a target):
 * scale-free, so they mean the same in a conv and a dense tensor whatever their distributions.
 */
export const RANK_FEATURES = ['rank_abs_theta', 'rank_theta_grad', 'rank_theta_hg', 'rank_synflow'] as const;
/**
 * Unit (connectivity) features: the mean of |θ ⊙ g| or |g| over the weights sharing this weight's input
 * unit (dense input neuron / conv input channel) or output unit (neuron / output channel), each divided by
 * its RMS over the tensor. A weight into or out of a unit the loss barely uses scores low on them.
 */
export const UNIT_FEATURES = ['in_theta_grad', 'out_theta_grad', 'in_grad', 'out_grad'] as const;
/** Per-tensor descriptors, the same for every weight of a tensor. */
export const LAYER_FEATURES = ['kind', 'log_fan_in', 'log_fan_out', 'kernel_size', 'depth', 'log_size'] as const;
/**
 * Context within the network, scale-free across networks: `ctx_*` (per tensor) log of the tensor's mean
 * |θ|, |θ ⊙ g|, |θ ⊙ Hg| or SynFlow score over the network's (per weight), and log of its share of the
 * prunable weights; `net_*` (per weight) log of the weight's own score over the network's mean. Means
 * are over live weights (θ ≠ 0: a target's unpruned ones in later rounds). They tell the scorer what
 * per-tensor normalization hides: which tensors, and which weights across tensors, a handcrafted
 * score would favour.
 */
export const CONTEXT_FEATURES = [
  'ctx_abs_theta',
  'ctx_theta_grad',
  'ctx_theta_hg',
  'ctx_synflow',
  'ctx_size_share',
  'net_abs_theta',
  'net_theta_grad',
  'net_theta_hg',
  'net_synflow',
] as const;
export type FeatureName =
  | (typeof WEIGHT_FEATURES)[number]
  | (typeof RANK_FEATURES)[number]
  | (typeof UNIT_FEATURES)[number]
  | (typeof LAYER_FEATURES)[number]
  | (typeof CONTEXT_FEATURES)[number];
export const ALL_FEATURES: readonly FeatureName[] = [...WEIGHT_FEATURES, ...RANK_FEATURES, ...UNIT_FEATURES, ...LAYER_FEATURES, ...CONTEXT_FEATURES];
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
  /** SynFlow scores (rank_synflow). */
  flow?: Float32Array;
}

export function parseFeatureList(list: string): FeatureName[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names) if (!(ALL_FEATURES as readonly string[]).includes(n)) usage(`unknown AutoS feature '${n}': choose from ${ALL_FEATURES.join(', ')}`);
  if (new Set(names).size !== names.length) usage(`--features lists a feature twice: ${list}`);
  if (names.length === 0) usage('--features is empty: list at least one feature');
  return names as FeatureName[];
}

export const needsHg = (features: readonly FeatureName[]) =>
  features.some((f) => f === 'hg' || f === 'theta_hg' || f === 'rank_theta_hg' || f === 'ctx_theta_hg' || f === 'net_theta_hg');
export const needsFlow = (features: readonly FeatureName[]) => features.some((f) => f === 'rank_synflow' || f === 'ctx_synflow' || f === 'net_synflow');
export const needsContext = (features: readonly FeatureName[]) => features.some((f) => (CONTEXT_FEATURES as readonly string[]).includes(f));

const SCORES = {
  abs_theta: (c: TensorColumns, i: number) => Math.abs(c.theta[i]),
  theta_grad: (c: TensorColumns, i: number) => Math.abs(c.theta[i] * c.grad[i]),
  theta_hg: (c: TensorColumns, i: number) => Math.abs(c.theta[i] * c.hg![i]),
  synflow: (c: TensorColumns, i: number) => Math.abs(c.flow![i]),
};
type ScoreName = keyof typeof SCORES;
const scoreOf = (feature: string) => feature.replace(/^(ctx|net)_/, '') as ScoreName;

/** A weight's (or tensor's) score this many times below the network mean counts as that far, no further. */
const LOG_FLOOR = Math.log(1e-6);

/** Per network: its mean score per live weight, and each tensor's mean and size share. */
export interface NetworkContext {
  means: Partial<Record<ScoreName, number>>;
  tensors: Map<string, { size_share: number; means: Partial<Record<ScoreName, number>> }>;
}

/** The context of every prunable tensor of one network (all of them, in any order). */
export function networkContext(tensors: Array<{ name: string; cols: TensorColumns }>, features: readonly FeatureName[]): NetworkContext {
  const total = tensors.reduce((n, t) => n + t.cols.theta.length, 0);
  const context: NetworkContext = { means: {}, tensors: new Map(tensors.map((t) => [t.name, { size_share: t.cols.theta.length / total, means: {} }])) };
  const wanted = new Set(features.filter((f) => /^(ctx|net)_/.test(f) && f !== 'ctx_size_share').map(scoreOf));
  for (const name of wanted) {
    const f = SCORES[name];
    let sum = 0;
    let live = 0;
    for (const t of tensors) {
      let s = 0;
      let n = 0;
      for (let i = 0; i < t.cols.theta.length; i++) {
        if (t.cols.theta[i] === 0) continue;
        s += f(t.cols, i);
        n++;
      }
      context.tensors.get(t.name)!.means[name] = n ? s / n : 0;
      sum += s;
      live += n;
    }
    context.means[name] = live ? sum / live : 0;
  }
  return context;
}

/** log(v / mean), floored at LOG_FLOOR (a zero score, or a network whose scores are all zero). */
const logRatio = (v: number, mean: number) => (mean > 0 && v > 0 ? Math.max(LOG_FLOOR, Math.log(v / mean)) : LOG_FLOOR);

/** Percentile in [0, 1] of each value within the array (ties share their mean rank). */
export function percentiles(v: ArrayLike<number>): Float32Array {
  const n = v.length;
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => v[a] - v[b]);
  const out = new Float32Array(n);
  for (let s = 0; s < n;) {
    let e = s + 1;
    while (e < n && v[order[e]] === v[order[s]]) e++;
    const r = n > 1 ? (s + e - 1) / 2 / (n - 1) : 0.5;
    for (let j = s; j < e; j++) out[order[j]] = r;
    s = e;
  }
  return out;
}

/**
 * Mean of `value` over the weights sharing each weight's input unit (axis = 'in') or output unit ('out')
 * of a [..., cin, cout] tensor (tfjs layout: dense [in, out], conv [kh, kw, cin, cout]), broadcast back.
 */
export function unitMeans(shape: readonly number[], value: (i: number) => number, n: number, axis: 'in' | 'out'): Float32Array {
  const cout = shape[shape.length - 1];
  const cin = shape.length >= 2 ? shape[shape.length - 2] : 1;
  const units = axis === 'out' ? cout : cin;
  const unit = (i: number) => (axis === 'out' ? i % cout : Math.floor(i / cout) % cin);
  const sum = new Float64Array(units);
  const count = new Float64Array(units);
  for (let i = 0; i < n; i++) {
    sum[unit(i)] += value(i);
    count[unit(i)]++;
  }
  return Float32Array.from({ length: n }, (_, i) => sum[unit(i)] / Math.max(1, count[unit(i)]));
}

function rmsNormalized(v: ArrayLike<number>, n: number, f: (i: number) => number): Float32Array {
  let s = 0;
  for (let i = 0; i < n; i++) s += f(i) ** 2;
  const scale = Math.sqrt(s / Math.max(1, n)) || 1;
  return Float32Array.from({ length: n }, (_, i) => f(i) / scale);
}

/** Row-major [size, features.length] matrix for one tensor (`context`: its network's, for ctx_/net_ features). */
export function featureMatrix(cols: TensorColumns, layer: LayerDescriptor, features: readonly FeatureName[], context?: NetworkContext): Float32Array {
  const n = cols.theta.length;
  const { theta, grad } = cols;
  const hg = cols.hg;
  if (needsHg(features) && !hg) usage(`AutoS features ${features.join(',')} need Hg, which this source lacks`);
  if (needsFlow(features) && !cols.flow) throw new Error('rank_synflow needs the SynFlow scores (TensorColumns.flow)');
  const own = context?.tensors.get(layer.name);
  if (needsContext(features) && !own) throw new Error(`ctx_/net_ features need the network context of tensor ${layer.name}`);
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
      case 'rank_abs_theta':
        return percentiles(Float32Array.from(theta, Math.abs));
      case 'rank_theta_grad':
        return percentiles(Float32Array.from({ length: n }, (_, i) => Math.abs(theta[i] * grad[i])));
      case 'rank_theta_hg':
        return percentiles(Float32Array.from({ length: n }, (_, i) => Math.abs(theta[i] * hg![i])));
      case 'rank_synflow':
        return percentiles(cols.flow!);
      case 'in_theta_grad':
      case 'out_theta_grad': {
        const m = unitMeans(layer.shape, (i) => Math.abs(theta[i] * grad[i]), n, f === 'in_theta_grad' ? 'in' : 'out');
        return rmsNormalized(m, n, (i) => m[i]);
      }
      case 'in_grad':
      case 'out_grad': {
        const m = unitMeans(layer.shape, (i) => Math.abs(grad[i]), n, f === 'in_grad' ? 'in' : 'out');
        return rmsNormalized(m, n, (i) => m[i]);
      }
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
      case 'ctx_size_share':
        return Math.log(own!.size_share);
      case 'ctx_abs_theta':
      case 'ctx_theta_grad':
      case 'ctx_theta_hg':
      case 'ctx_synflow':
        return logRatio(own!.means[scoreOf(f)]!, context!.means[scoreOf(f)]!);
      case 'net_abs_theta':
      case 'net_theta_grad':
      case 'net_theta_hg':
      case 'net_synflow': {
        const score = SCORES[scoreOf(f)];
        const mean = context!.means[scoreOf(f)]!;
        return Float32Array.from({ length: n }, (_, i) => logRatio(score(cols, i), mean));
      }
    }
  };
  const out = new Float32Array(n * features.length);
  features.forEach((f, j) => {
    const c = column(f);
    for (let i = 0; i < n; i++) out[i * features.length + j] = typeof c === 'number' ? c : c[i];
  });
  return out;
}
