import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { grad, hvp, type LossOfParams } from '../../src/engine/hvp.ts';
import * as ops from '../../src/engine/ops.ts';
import { onTidy, randn } from './helpers.ts';

/**
 * Hessian-vector products checked against independent references, each on the cpu and wasm backends:
 *  1. closed form (softmax regression, float64 on the host),
 *  2. central finite differences of the gradient on smooth (tanh) conv / BN / pool / residual nets,
 *  3. a frozen-pattern reference for relu and max-pool (the same function near θ, built from
 *     constant masks and routes computed on the host),
 *  4. the GraSP form H·g with g = ∇L (T = 200).
 * Set HVP_VERBOSE=1 to print every measured error.
 */

const BACKENDS = ['cpu', 'wasm'] as const;
type Backend = (typeof BACKENDS)[number];

const measured: string[] = [];
const note = (backend: Backend, label: string, value: number) => measured.push(`${backend.padEnd(4)} ${label}: ${value.toExponential(2)}`);
afterAll(() => {
  if (process.env.HVP_VERBOSE) console.log(measured.join('\n'));
});

// ---------------------------------------------------------------------------------------------
// Host-side helpers (float64)

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** ‖a − b‖ / ‖b‖ in float64. */
function rel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let num = 0;
  for (let i = 0; i < a.length; i++) num += (a[i] - b[i]) ** 2;
  return Math.sqrt(num) / Math.max(norm(b), 1e-300);
}

const concat = (xs: ArrayLike<number>[]): Float64Array => {
  const out = new Float64Array(xs.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of xs) for (let i = 0; i < x.length; i++) out[o++] = x[i];
  return out;
};

const host = (ts: tf.Tensor[]): Float32Array[] => ts.map((t) => t.dataSync() as Float32Array);

const labelsOf = (n: number, classes: number, salt = 0) =>
  tf.tensor1d(
    Array.from({ length: n }, (_, i) => (i * 7 + 3 + salt) % classes),
    'int32',
  );

const on = onTidy;

// ---------------------------------------------------------------------------------------------
// Models: named parameters and a loss of the parameter list

interface Model {
  names: string[];
  params: tf.Tensor[];
  loss: LossOfParams;
}

type P = Record<string, tf.Tensor>;

function model(init: P, f: (p: P) => tf.Scalar): Model {
  const names = Object.keys(init);
  return {
    names,
    params: names.map((n) => init[n]),
    loss: (ps) => f(Object.fromEntries(names.map((n, i) => [n, ps[i]]))),
  };
}

const conv = (x: tf.Tensor, w: tf.Tensor, stride = 1, pad: ops.Padding = 'same') => ops.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad);

type BnMode = { training: true } | { training: false; running: ops.BatchStats };

const bn = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, mode: BnMode) =>
  ops.batchNorm(
    x,
    gamma as tf.Tensor1D,
    beta as tf.Tensor1D,
    mode.training ? { mean: tf.zeros([x.shape[3]!]) as tf.Tensor1D, variance: tf.ones([x.shape[3]!]) as tf.Tensor1D } : mode.running,
    mode.training,
  ).y as tf.Tensor4D;

const tanh = (x: tf.Tensor) => tf.tanh(x) as tf.Tensor4D;

/** BN parameters and (for eval mode) running statistics of `c` channels. */
function bnInit(c: number, seed: number): { gamma: tf.Tensor; beta: tf.Tensor } {
  return { gamma: tf.add(1, randn([c], seed, 0.2)), beta: randn([c], seed + 1, 0.2) };
}

function running(c: number, seed: number): ops.BatchStats {
  return {
    mean: randn([c], seed, 0.3) as tf.Tensor1D,
    variance: tf.add(0.5, tf.abs(randn([c], seed + 1))) as tf.Tensor1D,
  };
}

const randomDirection = (params: tf.Tensor[], seed: number) => params.map((p, i) => randn(p.shape, seed + 17 * i));

// ---------------------------------------------------------------------------------------------
// Central finite differences of the gradient along v

interface FdResult {
  /** hvp along v, per tensor. */
  hv: Float32Array[];
  /** Central difference [g(θ + hv) − g(θ − hv)]/2h in float64, per tensor. */
  central: Float64Array[];
  /** Richardson extrapolation (4·D(h) − D(2h))/3 of central differences at h and 2h: O(h⁴) truncation. */
  extrapolated: Float64Array[];
}

/**
 * Step h = ε / rms(v), so each weight moves by about ε = 1e-3. At that step the plain central
 * difference is truncation-limited on BN-train nets (error ∝ h², measured up to 5e-3 per tensor on
 * the residual net, 4× less per halving of h), while a step of ε/‖v‖ is rounding-limited on small tensors (float32
 * gradients, 5e-3 on a 3-element bias). Extrapolating two central differences cancels the h² term
 * and keeps the rounding of the larger step, so the 1e-3 per-tensor tolerance has a margin.
 */
function finiteDifference(m: Model, v: tf.Tensor[], eps = 1e-3): FdResult {
  const all = concat(host(v));
  const h = eps / (norm(all) / Math.sqrt(all.length));
  const diff = (step: number) => {
    const gp = host(
      grad(
        m.loss,
        m.params.map((p, i) => tf.add(p, tf.mul(v[i], step))),
      ),
    );
    const gm = host(
      grad(
        m.loss,
        m.params.map((p, i) => tf.sub(p, tf.mul(v[i], step))),
      ),
    );
    return gp.map((a, i) => Float64Array.from(a, (ai, j) => (ai - gm[i][j]) / (2 * step)));
  };
  const central = diff(h);
  const wide = diff(2 * h);
  return {
    hv: host(hvp(m.loss, m.params, v)),
    central,
    extrapolated: central.map((c, i) => c.map((cj, j) => (4 * cj - wide[i][j]) / 3)),
  };
}

function expectClose(backend: Backend, label: string, names: string[], got: ArrayLike<number>[], want: ArrayLike<number>[], tol: number, floor: number) {
  const whole = rel(concat(got), concat(want));
  note(backend, `${label} (all)`, whole);
  let worst = 0;
  for (let i = 0; i < names.length; i++) {
    const e = rel(got[i], want[i]);
    worst = Math.max(worst, e);
    note(backend, `${label} [${names[i]}]`, e);
    expect(norm(want[i]), `${label} ${names[i]}: reference is ~0`).toBeGreaterThan(floor);
    expect(e, `${label} ${names[i]} on ${backend}`).toBeLessThan(tol);
  }
  note(backend, `${label} (worst tensor)`, worst);
  note(backend, `${label} smallest reference norm / floor`, Math.min(...want.map(norm)) / floor);
  expect(whole).toBeLessThan(tol);
}

// ---------------------------------------------------------------------------------------------
// 1. Closed form: softmax regression

interface SoftmaxCase {
  label: string;
  n: number;
  d: number;
  c: number;
  temperature: number;
  /** Weight scale: logits/T ~ wScale·√d/T. */
  wScale: number;
  bias: boolean;
  tol: number;
}

/** H·(V, vb) of mean CE(softmax((xW + b)/T)) in float64: (1/N) Σ x ⊗ (p⊙u − p (p·u)) / T². */
function softmaxRegressionHvp(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array | null,
  vw: Float32Array,
  vb: Float32Array | null,
  n: number,
  d: number,
  c: number,
  t: number,
): { hw: Float64Array; hb: Float64Array; gw: Float64Array; gb: Float64Array; labels: number[] } {
  const hw = new Float64Array(d * c);
  const hb = new Float64Array(c);
  const gw = new Float64Array(d * c);
  const gb = new Float64Array(c);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = (i * 7 + 3) % c;
    labels.push(y);
    const z = new Float64Array(c);
    const u = new Float64Array(c);
    for (let k = 0; k < c; k++) {
      let zk = b ? b[k] : 0;
      let uk = vb ? vb[k] : 0;
      for (let j = 0; j < d; j++) {
        zk += x[i * d + j] * w[j * c + k];
        uk += x[i * d + j] * vw[j * c + k];
      }
      z[k] = zk / t;
      u[k] = uk;
    }
    const zmax = Math.max(...z);
    const p = z.map((zk) => Math.exp(zk - zmax));
    const sum = p.reduce((a, e) => a + e, 0);
    for (let k = 0; k < c; k++) p[k] /= sum;
    let pu = 0;
    for (let k = 0; k < c; k++) pu += p[k] * u[k];
    for (let k = 0; k < c; k++) {
      const s = (p[k] * (u[k] - pu)) / (n * t * t);
      const g = (p[k] - (k === y ? 1 : 0)) / (n * t);
      hb[k] += s;
      gb[k] += g;
      for (let j = 0; j < d; j++) {
        hw[j * c + k] += x[i * d + j] * s;
        gw[j * c + k] += x[i * d + j] * g;
      }
    }
  }
  return { hw, hb, gw, gb, labels };
}

const softmaxCases: SoftmaxCase[] = [
  { label: 'T=1, with bias', n: 24, d: 7, c: 5, temperature: 1, wScale: 0.5, bias: true, tol: 1e-4 },
  { label: 'T=1, no bias, peaked softmax', n: 24, d: 7, c: 5, temperature: 1, wScale: 3, bias: false, tol: 1e-4 },
  { label: 'T=200, with bias (near-uniform softmax, values ~1/T²)', n: 24, d: 7, c: 5, temperature: 200, wScale: 0.5, bias: true, tol: 1e-4 },
  { label: 'T=200, no bias, logits ~T', n: 24, d: 7, c: 5, temperature: 200, wScale: 100, bias: false, tol: 1e-4 },
];

describe('hvp: closed form (softmax regression, float64 host reference)', () => {
  for (const [ci, sc] of softmaxCases.entries()) {
    for (const backend of BACKENDS) {
      it(`${sc.label} on ${backend}`, async () => {
        const { n, d, c, temperature: t } = sc;
        const r = await on(backend, () => {
          const x = randn([n, d], 1000 + ci);
          const w = randn([d, c], 1100 + ci, sc.wScale);
          const b = sc.bias ? randn([c], 1200 + ci, sc.wScale) : null;
          const vw = randn([d, c], 1300 + ci);
          const vb = sc.bias ? randn([c], 1400 + ci) : null;
          const labels = labelsOf(n, c);
          const loss: LossOfParams = (ps) =>
            ops.crossEntropy(ops.dense(x as tf.Tensor2D, ps[0] as tf.Tensor2D, ps[1] as tf.Tensor1D | undefined), labels as tf.Tensor1D, t);
          const params = b ? [w, b] : [w];
          const v = vb ? [vw, vb] : [vw];
          const ref = softmaxRegressionHvp(
            x.dataSync() as Float32Array,
            w.dataSync() as Float32Array,
            b ? (b.dataSync() as Float32Array) : null,
            vw.dataSync() as Float32Array,
            vb ? (vb.dataSync() as Float32Array) : null,
            n,
            d,
            c,
            t,
          );
          expect(Array.from(labels.dataSync())).toEqual(ref.labels);
          return {
            hv: host(hvp(loss, params, v)),
            g: host(grad(loss, params)),
            hvRef: b ? [ref.hw, ref.hb] : [ref.hw],
            gRef: b ? [ref.gw, ref.gb] : [ref.gw],
            names: b ? ['W', 'b'] : ['W'],
          };
        });
        // The reference must not be ~0: Hv ~ 1/T², so compare against that scale.
        const floor = 1e-3 / (t * t);
        expectClose(backend, `closed form ${sc.label} grad`, r.names, r.g, r.gRef, sc.tol, 1e-3 / t);
        expectClose(backend, `closed form ${sc.label} hvp`, r.names, r.hv, r.hvRef, sc.tol, floor);
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// 2. Central finite differences on smooth nets

/**
 * conv 3×3 s1 same (+bias) → tanh → conv 3×3 s2 valid → BN(eval) → tanh → avgPool 2 →
 * conv 1×1 s1 valid → tanh → flatten → dense → CE (T = 1).
 */
function convEvalNet(): Model {
  const x = randn([4, 10, 10, 3], 1);
  const labels = labelsOf(4, 3);
  const run2 = running(5, 50);
  const bn2 = bnInit(5, 40);
  return model(
    {
      w1: randn([3, 3, 3, 4], 2, 0.3),
      b1: randn([4], 3, 0.2),
      w2: randn([3, 3, 4, 5], 4, 0.3),
      g2: bn2.gamma,
      be2: bn2.beta,
      w3: randn([1, 1, 5, 6], 5, 0.5),
      w4: randn([24, 3], 6, 0.3),
      b4: randn([3], 7, 0.2),
    },
    (p) => {
      let h = tanh(tf.add(conv(x, p.w1, 1, 'same'), p.b1));
      h = tanh(bn(conv(h, p.w2, 2, 'valid'), p.g2, p.be2, { training: false, running: run2 })); // 4×4
      h = ops.avgPool(h); // 2×2
      h = tanh(conv(h, p.w3, 1, 'valid'));
      return ops.crossEntropy(ops.dense(ops.flatten(h), p.w4 as tf.Tensor2D, p.b4 as tf.Tensor1D), labels as tf.Tensor1D, 1);
    },
  );
}

/**
 * conv 3×3 s2 same → BN(train) → tanh → conv 1×1 s2 valid → BN(train) → tanh → conv 3×3 s1 same →
 * tanh → global avg pool → dense → CE (T = 5).
 */
function convTrainNet(): Model {
  const x = randn([4, 9, 9, 3], 11);
  const labels = labelsOf(4, 4, 1);
  const bn1 = bnInit(5, 60);
  const bn2 = bnInit(6, 62);
  return model(
    {
      w1: randn([3, 3, 3, 5], 12, 0.3),
      g1: bn1.gamma,
      be1: bn1.beta,
      w2: randn([1, 1, 5, 6], 13, 0.4),
      g2: bn2.gamma,
      be2: bn2.beta,
      w3: randn([3, 3, 6, 6], 14, 0.25),
      b3: randn([6], 15, 0.2),
      w4: randn([6, 4], 16, 0.5),
      b4: randn([4], 17, 0.2),
    },
    (p) => {
      let h = tanh(bn(conv(x, p.w1, 2, 'same'), p.g1, p.be1, { training: true })); // 5×5
      h = tanh(bn(conv(h, p.w2, 2, 'valid'), p.g2, p.be2, { training: true })); // 3×3
      h = tanh(tf.add(conv(h, p.w3, 1, 'same'), p.b3));
      return ops.crossEntropy(ops.dense(ops.globalAvgPool(h), p.w4 as tf.Tensor2D, p.b4 as tf.Tensor1D), labels as tf.Tensor1D, 5);
    },
  );
}

/**
 * ResNet-like: stem conv-BN-tanh; identity block (conv-BN-tanh-conv-BN + x, tanh); downsampling block
 * (conv s2-BN-tanh-conv-BN + BN(conv 1×1 s2)(x), tanh); global avg pool; dense; CE (T = 2).
 */
function residualNet(training: boolean): Model {
  const x = randn([8, 8, 8, 3], 21);
  const labels = labelsOf(8, 3, 2);
  const names = ['0', '1', '2', '3', '4', 's'];
  const chans = { '0': 4, '1': 4, '2': 4, '3': 6, '4': 6, s: 6 } as Record<string, number>;
  const runs = Object.fromEntries(names.map((k, i) => [k, running(chans[k], 300 + 2 * i)]));
  const mode = (k: string): BnMode => (training ? { training: true } : { training: false, running: runs[k] });
  const init: P = {};
  const shapes: Record<string, number[]> = {
    '0': [3, 3, 3, 4],
    '1': [3, 3, 4, 4],
    '2': [3, 3, 4, 4],
    '3': [3, 3, 4, 6],
    '4': [3, 3, 6, 6],
    s: [1, 1, 4, 6],
  };
  for (const [i, k] of names.entries()) {
    const fanIn = shapes[k].slice(0, 3).reduce((a, b) => a * b, 1);
    init[`w${k}`] = randn(shapes[k], 200 + 3 * i, 1.2 / Math.sqrt(fanIn));
    const b = bnInit(chans[k], 250 + 3 * i);
    init[`g${k}`] = b.gamma;
    init[`be${k}`] = b.beta;
  }
  init.wd = randn([6, 3], 290, 0.5);
  init.bd = randn([3], 291, 0.2);
  return model(init, (p) => {
    const cbn = (h: tf.Tensor, k: string, stride = 1, pad: ops.Padding = 'same') => bn(conv(h, p[`w${k}`], stride, pad), p[`g${k}`], p[`be${k}`], mode(k));
    let h = tanh(cbn(x, '0'));
    h = tanh(tf.add(cbn(tanh(cbn(h, '1')), '2'), h));
    h = tanh(tf.add(cbn(tanh(cbn(h, '3', 2)), '4'), cbn(h, 's', 2, 'valid'))); // 4×4×6
    return ops.crossEntropy(ops.dense(ops.globalAvgPool(h), p.wd as tf.Tensor2D, p.bd as tf.Tensor1D), labels as tf.Tensor1D, 2);
  });
}

interface FdCase {
  label: string;
  build: () => Model;
  seed: number;
}

const fdCases: FdCase[] = [
  { label: 'conv s1 same 3×3 + bias, conv s2 valid, BN eval, avg pool, conv 1×1, dense, T=1', build: convEvalNet, seed: 500 },
  { label: 'conv s2 same, BN train, conv 1×1 s2 valid, global avg pool, dense, T=5', build: convTrainNet, seed: 600 },
  { label: 'residual (identity + 1×1 s2 shortcut), BN train', build: () => residualNet(true), seed: 700 },
  { label: 'residual (identity + 1×1 s2 shortcut), BN eval', build: () => residualNet(false), seed: 800 },
];

describe('hvp: central finite differences (ε = 1e-3) on smooth nets', () => {
  for (const fc of fdCases) {
    for (const backend of BACKENDS) {
      it(`${fc.label} on ${backend}`, async () => {
        const r = await on(backend, () => {
          const m = fc.build();
          return { names: m.names, ...finiteDifference(m, randomDirection(m.params, fc.seed)) };
        });
        expectClose(backend, `FD ${fc.label} extrapolated`, r.names, r.hv, r.extrapolated, 1e-3, 1e-4);
        // The plain central difference at ε = 1e-3 carries its own O(ε²) truncation error.
        expectClose(backend, `FD ${fc.label} central`, r.names, r.hv, r.central, 1e-2, 1e-4);
      });
    }
  }

  it('H is symmetric: ⟨u, Hv⟩ = ⟨v, Hu⟩ (residual net, BN train)', async () => {
    for (const backend of BACKENDS) {
      const r = await on(backend, () => {
        const m = residualNet(true);
        const u = randomDirection(m.params, 900);
        const v = randomDirection(m.params, 950);
        const dot = (a: tf.Tensor[], b: tf.Tensor[]) => a.reduce((s, ai, i) => s + tf.sum(tf.mul(ai, b[i])).dataSync()[0], 0);
        return { uHv: dot(u, hvp(m.loss, m.params, v)), vHu: dot(v, hvp(m.loss, m.params, u)) };
      });
      const e = Math.abs(r.uHv - r.vHu) / Math.abs(r.vHu);
      note(backend, 'symmetry ⟨u,Hv⟩ vs ⟨v,Hu⟩', e);
      expect(Math.abs(r.vHu)).toBeGreaterThan(1e-3);
      expect(e).toBeLessThan(1e-4);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Relu and max-pool: frozen-pattern reference

/** One-hot of the first maximum (row-major) of every non-overlapping 2×2 window (valid padding). */
function firstMaxRoute(x: Float32Array, [n, h, w, c]: number[]): Float32Array {
  const route = new Float32Array(x.length);
  const oh = Math.floor(h / 2);
  const ow = Math.floor(w / 2);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ch = 0; ch < c; ch++) {
          let at = -1;
          for (let fy = 0; fy < 2; fy++)
            for (let fx = 0; fx < 2; fx++) {
              const idx = ((b * h + 2 * oy + fy) * w + 2 * ox + fx) * c + ch;
              if (at < 0 || x[idx] > x[at]) at = idx;
            }
          route[at] = 1;
        }
  return route;
}

/** Exactly one 1 in every valid 2×2 window, zeros elsewhere (including rows/columns the pool drops). */
function checkRoute(route: Float32Array, [n, h, w, c]: number[]): void {
  let ones = 0;
  for (const r of route) {
    expect(r === 0 || r === 1).toBe(true);
    ones += r;
  }
  const oh = Math.floor(h / 2);
  const ow = Math.floor(w / 2);
  expect(ones).toBe(n * oh * ow * c);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ch = 0; ch < c; ch++) {
          let s = 0;
          for (let fy = 0; fy < 2; fy++) for (let fx = 0; fx < 2; fx++) s += route[((b * h + 2 * oy + fy) * w + 2 * ox + fx) * c + ch];
          expect(s).toBe(1);
        }
}

interface Kinks {
  act: (a: tf.Tensor, layer: number) => tf.Tensor;
  pool: (r: tf.Tensor4D, layer: number) => tf.Tensor4D;
}

interface VggSpec {
  label: string;
  input: [number, number, number, number];
  c1: number;
  c2: number;
  classes: number;
  temperature: number;
  bnTraining: boolean;
  seed: number;
}

/** conv 3×3 → BN → act → pool → conv 3×3 → BN → act → pool → flatten → dense → CE. */
function vggNet(s: VggSpec, kinks: Kinks): Model {
  const [n, h, w, cin] = s.input;
  const x = randn(s.input, s.seed);
  const labels = labelsOf(n, s.classes, 3);
  const bn1 = bnInit(s.c1, s.seed + 10);
  const bn2 = bnInit(s.c2, s.seed + 12);
  const run1 = running(s.c1, s.seed + 14);
  const run2 = running(s.c2, s.seed + 16);
  const flat = Math.floor(Math.floor(h / 2) / 2) * Math.floor(Math.floor(w / 2) / 2) * s.c2;
  const mode = (r: ops.BatchStats): BnMode => (s.bnTraining ? { training: true } : { training: false, running: r });
  return model(
    {
      w1: randn([3, 3, cin, s.c1], s.seed + 1, 0.4),
      g1: bn1.gamma,
      be1: bn1.beta,
      w2: randn([3, 3, s.c1, s.c2], s.seed + 2, 0.25),
      g2: bn2.gamma,
      be2: bn2.beta,
      wd: randn([flat, s.classes], s.seed + 3, 0.3),
      bd: randn([s.classes], s.seed + 4, 0.2),
    },
    (p) => {
      let a = kinks.pool(kinks.act(bn(conv(x, p.w1), p.g1, p.be1, mode(run1)), 0) as tf.Tensor4D, 0);
      a = kinks.pool(kinks.act(bn(conv(a, p.w2), p.g2, p.be2, mode(run2)), 1) as tf.Tensor4D, 1);
      return ops.crossEntropy(ops.dense(ops.flatten(a), p.wd as tf.Tensor2D, p.bd as tf.Tensor1D), labels as tf.Tensor1D, s.temperature);
    },
  );
}

const realKinks: Kinks = { act: (a) => ops.relu(a), pool: (r) => ops.maxPool(r) };

/**
 * Evaluates the real net once at θ, recording relu masks (pre-activation > 0) and max-pool routes on
 * the host, and returns the frozen net: relu(x) → x ⊙ mask, maxPool(x) → 4·avgPool(x ⊙ route).
 */
function frozenVgg(s: VggSpec): { frozen: Model; masks: Float32Array[]; routes: { route: Float32Array; shape: number[] }[] } {
  const masks: Float32Array[] = [];
  const routes: { route: Float32Array; shape: number[] }[] = [];
  const recording: Kinks = {
    act: (a, layer) => {
      masks[layer] = Float32Array.from(a.dataSync(), (v) => (v > 0 ? 1 : 0));
      return ops.relu(a);
    },
    pool: (r, layer) => {
      routes[layer] = { route: firstMaxRoute(r.dataSync() as Float32Array, r.shape), shape: r.shape };
      return ops.maxPool(r);
    },
  };
  const rec = vggNet(s, recording);
  tf.tidy(() => {
    rec.loss(rec.params);
  });
  const frozenKinks: Kinks = {
    act: (a, layer) => tf.mul(a, tf.tensor(masks[layer], a.shape)),
    pool: (r, layer) => tf.mul(ops.avgPool(tf.mul(r, tf.tensor(routes[layer].route, r.shape)) as tf.Tensor4D), 4) as tf.Tensor4D,
  };
  return { frozen: vggNet(s, frozenKinks), masks, routes };
}

const vggSpecs: VggSpec[] = [
  { label: 'VGG 12×12→6×6→3×3, BN train, T=1', input: [3, 12, 12, 2], c1: 4, c2: 6, classes: 5, temperature: 1, bnTraining: true, seed: 1500 },
  {
    label: 'VGG 14×14→7×7→3×3 (pool drops a row/col), BN eval, T=1',
    input: [2, 14, 14, 3],
    c1: 4,
    c2: 5,
    classes: 4,
    temperature: 1,
    bnTraining: false,
    seed: 1600,
  },
  { label: 'VGG 12×12→6×6→3×3, BN train, T=200', input: [3, 12, 12, 2], c1: 4, c2: 6, classes: 5, temperature: 200, bnTraining: true, seed: 1700 },
];

describe('hvp: relu and max-pool against the frozen-pattern net', () => {
  for (const s of vggSpecs) {
    for (const backend of BACKENDS) {
      it(`${s.label} on ${backend}`, async () => {
        const r = await on(backend, () => {
          const real = vggNet(s, realKinks);
          const { frozen, masks, routes } = frozenVgg(s);
          for (const { route, shape } of routes) checkRoute(route, shape);
          // Both relu layers must have both signs (otherwise the mask tests nothing).
          for (const m of masks) {
            const on1 = m.reduce((a, b) => a + b, 0);
            expect(on1).toBeGreaterThan(0.2 * m.length);
            expect(on1).toBeLessThan(0.8 * m.length);
          }
          const lossReal = real.loss(real.params).dataSync()[0];
          const lossFrozen = frozen.loss(frozen.params).dataSync()[0];
          const v = randomDirection(real.params, s.seed + 50);
          const g = grad(real.loss, real.params);
          return {
            names: real.names,
            lossReal,
            lossFrozen,
            gReal: host(g),
            gFrozen: host(grad(frozen.loss, frozen.params)),
            hvReal: host(hvp(real.loss, real.params, v)),
            hvFrozen: host(hvp(frozen.loss, frozen.params, v)),
            // GraSP form on the kinked net: H·g with g the real gradient held constant.
            hgReal: host(hvp(real.loss, real.params, g)),
            hgFrozen: host(hvp(frozen.loss, frozen.params, g)),
            // The frozen net is smooth (constant masks), so finite differences validate it in turn (at
            // T = 200 with the wider step, see the GraSP case: the last bias's FD is rounding-limited).
            fd: finiteDifference(frozen, v, s.temperature > 1 ? 4e-3 : 1e-3),
          };
        });
        const t = s.temperature;
        expect(Math.abs(r.lossReal - r.lossFrozen)).toBeLessThan(1e-6 * Math.max(1, Math.abs(r.lossReal)));
        expectClose(backend, `frozen ${s.label} grad`, r.names, r.gReal, r.gFrozen, 1e-5, 1e-4 / t);
        expectClose(backend, `frozen ${s.label} hvp`, r.names, r.hvReal, r.hvFrozen, 1e-5, 1e-4 / t);
        expectClose(backend, `frozen ${s.label} Hg`, r.names, r.hgReal, r.hgFrozen, 1e-5, 1e-6 / (t * t));
        expectClose(backend, `frozen ${s.label} FD extrapolated`, r.names, r.fd.hv, r.fd.extrapolated, 1e-3, 1e-4 / (t * t));
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// 4. GraSP form: H·g with g = ∇L (T = 200), against finite differences of g along g

/** conv 3×3 same → BN(train) → tanh → avg pool → conv 3×3 s2 same → tanh → flatten → dense → CE(T). */
function graspNet(temperature: number): Model {
  const x = randn([16, 8, 8, 2], 31);
  const labels = labelsOf(16, 5, 4);
  const bn1 = bnInit(4, 32);
  return model(
    {
      w1: randn([3, 3, 2, 4], 33, 0.4),
      g1: bn1.gamma,
      be1: bn1.beta,
      w2: randn([3, 3, 4, 6], 34, 0.25),
      b2: randn([6], 35, 0.2),
      wd: randn([24, 5], 36, 0.3),
      bd: randn([5], 37, 0.2),
    },
    (p) => {
      let h = tanh(bn(conv(x, p.w1), p.g1, p.be1, { training: true }));
      h = ops.avgPool(h); // 4×4
      h = tanh(tf.add(conv(h, p.w2, 2, 'same'), p.b2)); // 2×2×6
      return ops.crossEntropy(ops.dense(ops.flatten(h), p.wd as tf.Tensor2D, p.bd as tf.Tensor1D), labels as tf.Tensor1D, temperature);
    },
  );
}

describe('hvp: GraSP form H·g (T = 200) against finite differences of g along g', () => {
  for (const backend of BACKENDS) {
    it(`small conv net with BN train and avg pool on ${backend}`, async () => {
      const r = await on(backend, () => {
        const m = graspNet(200);
        const g = grad(m.loss, m.params); // stop-grad: a constant direction
        return { names: m.names, plain: finiteDifference(m, g, 1e-3), wide: finiteDifference(m, g, 4e-3) };
      });
      // At T = 200 the last bias's row of H is O(1/T²) while its gradient is O(1/T): its finite
      // difference is rounding-limited (float32 softmax of z/T), measured 3e-4..1e-3 for ε = 1e-3..8e-3
      // whatever the scheme. Every other tensor agrees to ~1e-5 once truncation is extrapolated away.
      expectClose(backend, 'GraSP Hg central ε=1e-3', r.names, r.plain.hv, r.plain.central, 3e-3, 1e-10);
      expect(rel(concat(r.plain.hv), concat(r.plain.central))).toBeLessThan(1e-3);
      // Extrapolated central differences at ε = 4e-3 and 8e-3: O(ε⁴) truncation, 4× less rounding.
      expectClose(backend, 'GraSP Hg extrapolated ε=4e-3', r.names, r.wide.hv, r.wide.extrapolated, 1e-3, 1e-10);
    });
  }
});
