import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';
import { fusedBatchNormActive, setFusedBatchNorm } from '../../src/engine/kernels/batch-norm.ts';
import { simdKernels } from '../../src/engine/kernels/wasm/simd-kernels.ts';
import * as ops from '../../src/engine/ops.ts';
import { onTidy, randn } from './helpers.ts';

/**
 * The fused batch-norm kernels (kernels/batch-norm.ts, gradients/batch-norm.ts) against the
 * primitive composition they replace (copied below as it stood), on cpu and wasm, train and eval
 * mode: forward values and batch statistics, first derivatives (including through the returned
 * statistics), Hessian-vector products (double backward, what GraSP needs) and one third-order
 * product. Set BN_VERBOSE=1 to print every measured error.
 */

const BACKENDS = ['cpu', 'wasm'] as const;
type Backend = (typeof BACKENDS)[number];

const measured: string[] = [];
afterAll(() => {
  setFusedBatchNorm(true);
  if (process.env.BN_VERBOSE) console.log(measured.join('\n'));
});

/** The primitive composition ops.batchNorm used before the fused kernels (the reference). */
function referenceBatchNorm(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  running: ops.BatchStats,
  training: boolean,
): { y: tf.Tensor; batch?: ops.BatchStats } {
  if (!training) {
    const scale = tf.div(gamma, tf.sqrt(tf.add(running.variance, ops.BN_EPS)));
    return { y: tf.add(tf.mul(tf.sub(x, running.mean), scale), beta) };
  }
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const count = x.size / x.shape[x.rank - 1];
  const mean = tf.mean(x, axes, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), axes, true);
  const y = tf.add(tf.mul(tf.div(centered, tf.sqrt(tf.add(variance, ops.BN_EPS))), gamma), beta);
  const unbiased = tf.mul(variance, count / Math.max(1, count - 1));
  return { y, batch: { mean: tf.reshape(mean, [-1]) as tf.Tensor1D, variance: tf.reshape(unbiased, [-1]) as tf.Tensor1D } };
}

type BnFn = typeof referenceBatchNorm;

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** ‖a − b‖ / max(‖b‖, floor) in float64. */
function err(a: ArrayLike<number>, b: ArrayLike<number>, floor: number): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  for (let i = 0; i < a.length; i++) num += (a[i] - b[i]) ** 2;
  return Math.sqrt(num) / Math.max(norm(b), floor);
}

function expectClose(backend: Backend, label: string, got: Float32Array[], want: Float32Array[], names: string[], tol: number, floor = 1e-6) {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    for (const v of got[i]) expect(Number.isFinite(v), `${label} ${names[i]}: non-finite value`).toBe(true);
    const e = err(got[i], want[i], floor);
    measured.push(`${backend.padEnd(4)} ${label} [${names[i]}] ‖ref‖=${norm(want[i]).toExponential(2)} err=${e.toExponential(2)}`);
    expect(e, `${label} ${names[i]} on ${backend}`).toBeLessThanOrEqual(tol);
  }
}

const host = (ts: tf.Tensor[]) => ts.map((t) => t.dataSync() as Float32Array);

const on = onTidy;

interface Case {
  label: string;
  shape: number[];
  training: boolean;
  /** Offset added to x: large means stress the one-pass variance and the centred gradient sums. */
  offset?: number;
  /** Scale of x. */
  scale?: number;
  /** Tolerance on derivatives where the float32 reference itself cancels (see the float64 checks below). */
  derivTol?: number;
}

const cases: Case[] = [
  { label: 'train [4,5,6,7] (odd channels)', shape: [4, 5, 6, 7], training: true },
  { label: 'train [2,6,6,16]', shape: [2, 6, 6, 16], training: true },
  { label: 'train batch 1 [1,3,3,5]', shape: [1, 3, 3, 5], training: true },
  // One value per channel: the reference's dx = dc − (dc − dμ) with dc ~ 300·dy loses ~1e-4 (the kernel is exact, checked below).
  { label: 'train batch 1, 1×1 [1,1,1,3] (one value per channel: x̂ = 0)', shape: [1, 1, 1, 3], training: true, derivTol: 1e-3 },
  { label: 'train rank 2 [9,3]', shape: [9, 3], training: true },
  { label: 'train, mean ≫ std (offset 300, scale 0.1)', shape: [3, 4, 4, 5], training: true, offset: 300, scale: 0.1 },
  { label: 'eval [4,5,6,7] (odd channels)', shape: [4, 5, 6, 7], training: false },
  // Channels in 4s: on wasm the SIMD kernels (float64 reductions, affine passes) on all threads.
  { label: 'train [4,5,6,8] (SIMD on wasm)', shape: [4, 5, 6, 8], training: true },
  { label: 'train batch 1, 1×1 [1,1,1,4] (SIMD on wasm, x̂ = 0)', shape: [1, 1, 1, 4], training: true, derivTol: 1e-3 },
  { label: 'train, mean ≫ std [3,4,4,8] (SIMD on wasm)', shape: [3, 4, 4, 8], training: true, offset: 300, scale: 0.1 },
  { label: 'eval [4,5,6,8] (SIMD on wasm)', shape: [4, 5, 6, 8], training: false },
  { label: 'eval batch 1 [1,1,1,3]', shape: [1, 1, 1, 3], training: false },
  { label: 'eval rank 2 [9,3]', shape: [9, 3], training: false },
];

interface Problem {
  names: string[];
  params: tf.Tensor[];
  /** Forward outputs: y and (train) the batch statistics. */
  forward: (bn: BnFn, ps: tf.Tensor[]) => tf.Tensor[];
  /** A smooth scalar loss of the outputs (nonlinear in y, linear in the statistics). */
  loss: (bn: BnFn, ps: tf.Tensor[]) => tf.Scalar;
}

function problem(cs: Case, seed: number): Problem {
  const c = cs.shape[cs.shape.length - 1];
  const x = tf.add(randn(cs.shape, seed, cs.scale ?? 1), cs.offset ?? 0.3);
  const gamma = tf.add(1, randn([c], seed + 1, 0.3));
  const beta = randn([c], seed + 2, 0.3);
  const rm = randn([c], seed + 3, 0.3);
  const rv = tf.add(0.5, tf.abs(randn([c], seed + 4)));
  const w = randn(cs.shape, seed + 5);
  const u = randn([c], seed + 6);
  const t = randn([c], seed + 7);
  // eval mode: the running statistics are parameters too (their derivatives must be right as well).
  const names = cs.training ? ['x', 'gamma', 'beta'] : ['x', 'gamma', 'beta', 'running_mean', 'running_var'];
  const params = cs.training ? [x, gamma, beta] : [x, gamma, beta, rm, rv];
  const run = (bn: BnFn, ps: tf.Tensor[]) => {
    const running = cs.training ? { mean: rm as tf.Tensor1D, variance: rv as tf.Tensor1D } : { mean: ps[3] as tf.Tensor1D, variance: ps[4] as tf.Tensor1D };
    return bn(ps[0], ps[1] as tf.Tensor1D, ps[2] as tf.Tensor1D, running, cs.training);
  };
  return {
    names,
    params,
    forward: (bn, ps) => {
      const out = run(bn, ps);
      return out.batch ? [out.y, out.batch.mean, out.batch.variance] : [out.y];
    },
    loss: (bn, ps) => {
      const out = run(bn, ps);
      let l = tf.sum(tf.mul(w, tf.tanh(out.y)));
      if (out.batch) l = tf.add(l, tf.add(tf.sum(tf.mul(u, tf.sin(out.batch.mean))), tf.sum(tf.mul(t, tf.sin(out.batch.variance)))));
      return l as tf.Scalar;
    },
  };
}

const fused: BnFn = (x, g, b, r, training) => {
  expect(fusedBatchNormActive()).toBe(true);
  return ops.batchNorm(x, g, b, r, training);
};

/** ops.batchNorm with the kernels switched off: the primitive fallback (what tensorflow backends run). */
const fallback: BnFn = (x, g, b, r, training) => {
  setFusedBatchNorm(false);
  try {
    expect(fusedBatchNormActive()).toBe(false);
    return ops.batchNorm(x, g, b, r, training);
  } finally {
    setFusedBatchNorm(true);
  }
};

const gradOf = (p: Problem, bn: BnFn) => host(tf.grads((...ps: tf.Tensor[]) => p.loss(bn, ps))(p.params));

const hvpOf = (p: Problem, bn: BnFn, v: tf.Tensor[]) =>
  host(
    tf.grads((...ps: tf.Tensor[]) => {
      const g = tf.grads((...qs: tf.Tensor[]) => p.loss(bn, qs))(ps);
      return tf.addN(g.map((gi, i) => tf.sum(tf.mul(gi, v[i])))) as tf.Scalar;
    })(p.params),
  );

/** ∇⟨∇⟨∇L, v⟩, u⟩: a third-order product (the kernels' gradients are themselves differentiable). */
const thirdOf = (p: Problem, bn: BnFn, v: tf.Tensor[], u: tf.Tensor[]) =>
  host(
    tf.grads((...ps: tf.Tensor[]) => {
      const h = tf.grads((...qs: tf.Tensor[]) => {
        const g = tf.grads((...rs: tf.Tensor[]) => p.loss(bn, rs))(qs);
        return tf.addN(g.map((gi, i) => tf.sum(tf.mul(gi, v[i])))) as tf.Scalar;
      })(ps);
      return tf.addN(h.map((hi, i) => tf.sum(tf.mul(hi, u[i])))) as tf.Scalar;
    })(p.params),
  );

describe('batch norm: fused kernels against the primitive composition', () => {
  it("runs the project's SIMD kernels on wasm (the cases with channels in 4s take them)", async () => {
    await initBackend('wasm');
    expect(simdKernels()).toBeDefined();
  });
  for (const [ci, cs] of cases.entries()) {
    for (const backend of BACKENDS) {
      it(`${cs.label} on ${backend}`, async () => {
        const r = await on(backend, () => {
          const p = problem(cs, 100 + 10 * ci);
          const v = p.params.map((q, i) => randn(q.shape, 500 + 7 * ci + i));
          const u = p.params.map((q, i) => randn(q.shape, 900 + 7 * ci + i));
          return {
            fwd: host(p.forward(fused, p.params)),
            fwdRef: host(p.forward(referenceBatchNorm, p.params)),
            fwdFallback: host(p.forward(fallback, p.params)),
            grad: gradOf(p, fused),
            gradRef: gradOf(p, referenceBatchNorm),
            gradFallback: gradOf(p, fallback),
            hvp: hvpOf(p, fused, v),
            hvpRef: hvpOf(p, referenceBatchNorm, v),
            third: thirdOf(p, fused, v, u),
            thirdRef: thirdOf(p, referenceBatchNorm, v, u),
            names: p.names,
          };
        });
        const outs = cs.training ? ['y', 'batch mean', 'batch var (unbiased)'] : ['y'];
        // The reference itself rounds in float32 (and loses digits when mean ≫ std); the kernels sum in float64.
        // With mean ≫ std both sides lose digits in float32 (which one is closer to the truth: see the float64 checks).
        const big = (cs.offset ?? 0) > 10;
        expectClose(backend, `${cs.label} forward`, r.fwd, r.fwdRef, outs, big ? 1e-3 : 2e-6);
        expectClose(backend, `${cs.label} fallback forward`, r.fwdFallback, r.fwdRef, outs, 0);
        expectClose(backend, `${cs.label} grad`, r.grad, r.gradRef, r.names, big ? 1e-2 : (cs.derivTol ?? 2e-5));
        expectClose(backend, `${cs.label} fallback grad`, r.gradFallback, r.gradRef, r.names, 0);
        expectClose(backend, `${cs.label} hvp`, r.hvp, r.hvpRef, r.names, big ? 3e-2 : (cs.derivTol ?? 1e-4));
        expectClose(backend, `${cs.label} third order`, r.third, r.thirdRef, r.names, big ? 3e-2 : (cs.derivTol ?? 1e-3));
      });
    }
  }
});

/**
 * Train mode in float64 on the host, with the loss Σ w·y + Σ u·μ + Σ t·v_unbiased (linear in the
 * outputs, so its gradient is the closed form): y, dx, dγ, dβ.
 */
function float64TrainVjp(x: Float32Array, shape: number[], gamma: Float32Array, beta: Float32Array, w: Float32Array, u: Float32Array, t: Float32Array) {
  const c = shape[shape.length - 1];
  const m = x.length / c;
  const k = m / Math.max(1, m - 1);
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  const dgamma = new Float64Array(c);
  const dbeta = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    let mean = 0;
    for (let i = ch; i < x.length; i += c) mean += x[i];
    mean /= m;
    let v = 0;
    for (let i = ch; i < x.length; i += c) v += (x[i] - mean) ** 2;
    v /= m;
    const r = 1 / Math.sqrt(v + ops.BN_EPS);
    let sw = 0;
    let swx = 0;
    for (let i = ch; i < x.length; i += c) {
      const xh = (x[i] - mean) * r;
      y[i] = gamma[ch] * xh + beta[ch];
      sw += w[i];
      swx += w[i] * xh;
    }
    dgamma[ch] = swx;
    dbeta[ch] = sw;
    for (let i = ch; i < x.length; i += c) {
      const xh = (x[i] - mean) * r;
      dx[i] = gamma[ch] * r * (w[i] - sw / m - (xh * swx) / m) + u[ch] / m + (t[ch] * k * 2 * (x[i] - mean)) / m;
    }
  }
  return [y, dx, dgamma, dbeta];
}

describe('batch norm: precision against float64 (train mode)', () => {
  const precisionCases: Case[] = [
    { label: '[4,5,6,7]', shape: [4, 5, 6, 7], training: true },
    { label: 'mean ≫ std (offset 300, scale 0.1)', shape: [3, 4, 4, 5], training: true, offset: 300, scale: 0.1 },
    { label: 'mean ≫ std (offset 1e4, scale 1)', shape: [8, 4, 4, 3], training: true, offset: 1e4 },
    { label: 'one value per channel [1,1,1,3]', shape: [1, 1, 1, 3], training: true },
    { label: '[16,6,6,12] (SIMD on wasm)', shape: [16, 6, 6, 12], training: true },
    { label: 'mean ≫ std (offset 1e4, scale 1) [8,4,4,4] (SIMD on wasm)', shape: [8, 4, 4, 4], training: true, offset: 1e4 },
    // 6912 rows: long float64 sums in the SIMD reductions.
    { label: '[6,32,36,12] (SIMD on wasm, 6912 rows)', shape: [6, 32, 36, 12], training: true, offset: 2 },
  ];
  for (const [ci, cs] of precisionCases.entries()) {
    for (const backend of BACKENDS) {
      it(`${cs.label}: the kernels are at least as accurate as the primitives, on ${backend}`, async () => {
        const r = await on(backend, () => {
          const c = cs.shape[cs.shape.length - 1];
          const x = tf.add(randn(cs.shape, 40 + ci, cs.scale ?? 1), cs.offset ?? 0.3);
          const gamma = tf.add(1, randn([c], 41 + ci, 0.3));
          const beta = randn([c], 42 + ci, 0.3);
          const w = randn(cs.shape, 43 + ci);
          const u = randn([c], 44 + ci);
          const t = randn([c], 45 + ci);
          const running = { mean: tf.zeros([c]) as tf.Tensor1D, variance: tf.ones([c]) as tf.Tensor1D };
          const run = (bn: BnFn) => {
            const f = (...ps: tf.Tensor[]) => {
              const out = bn(ps[0], ps[1] as tf.Tensor1D, ps[2] as tf.Tensor1D, running, true);
              return tf.addN([tf.sum(tf.mul(w, out.y)), tf.sum(tf.mul(u, out.batch!.mean)), tf.sum(tf.mul(t, out.batch!.variance))]) as tf.Scalar;
            };
            const y = bn(x, gamma as tf.Tensor1D, beta as tf.Tensor1D, running, true).y;
            return host([y, ...tf.grads(f)([x, gamma, beta])]);
          };
          const [xv, gv, bv, wv, uv, tv] = host([x, gamma, beta, w, u, t]);
          return { fused: run(fused), ref: run(referenceBatchNorm), truth: float64TrainVjp(xv, cs.shape, gv, bv, wv, uv, tv) };
        });
        const names = ['y', 'dx', 'dgamma', 'dbeta'];
        for (let i = 0; i < names.length; i++) {
          const ef = err(r.fused[i], r.truth[i], 1e-6);
          const er = err(r.ref[i], r.truth[i], 1e-6);
          measured.push(`${backend.padEnd(4)} float64 ${cs.label} [${names[i]}] fused ${ef.toExponential(2)} primitives ${er.toExponential(2)}`);
          expect(ef, `${cs.label} ${names[i]} on ${backend}: fused ${ef} vs primitives ${er}`).toBeLessThanOrEqual(Math.max(2 * er, 1e-6));
        }
      });
    }
  }
});

describe('batch norm: fused kernels keep the primitive semantics', () => {
  for (const backend of BACKENDS) {
    it(`batch statistics are the biased/unbiased pair PyTorch uses, on ${backend}`, async () => {
      const r = await on(backend, () => {
        const x = tf.tensor4d([1, 2, 3, 10, 20, 30, 5, 7, 9, 40, 50, 60], [2, 1, 2, 3]);
        const out = ops.batchNorm(
          x,
          tf.ones([3]) as tf.Tensor1D,
          tf.zeros([3]) as tf.Tensor1D,
          { mean: tf.zeros([3]) as tf.Tensor1D, variance: tf.ones([3]) as tf.Tensor1D },
          true,
        );
        return { mean: Array.from(out.batch!.mean.dataSync()), variance: Array.from(out.batch!.variance.dataSync()), y: Array.from(out.y.dataSync()) };
      });
      // Channel 0 holds 1, 10, 5, 40: mean 14, unbiased variance Σ(x − 14)²/3.
      expect(r.mean[0]).toBeCloseTo(14, 5);
      expect(r.variance[0]).toBeCloseTo((13 ** 2 + 4 ** 2 + 9 ** 2 + 26 ** 2) / 3, 3);
      const sd = Math.sqrt((13 ** 2 + 4 ** 2 + 9 ** 2 + 26 ** 2) / 4 + ops.BN_EPS);
      expect(r.y[0]).toBeCloseTo((1 - 14) / sd, 5);
    });

    it(`a train step leaks no tensors and no backend scratch data, on ${backend}`, async () => {
      await initBackend(backend);
      const x = randn([2, 4, 4, 6], 7);
      const gamma = tf.ones([6]);
      const beta = tf.zeros([6]);
      const running = { mean: tf.zeros([6]) as tf.Tensor1D, variance: tf.ones([6]) as tf.Tensor1D };
      const step = () =>
        tf.tidy(() => {
          const { value, grads } = tf.valueAndGrads((...ps: tf.Tensor[]) => {
            const out = ops.batchNorm(ps[0], ps[1] as tf.Tensor1D, ps[2] as tf.Tensor1D, running, true);
            return tf.sum(tf.square(out.y)) as tf.Scalar;
          })([x, gamma, beta]);
          return [value, ...grads].map((t) => t.dataSync()[0]);
        });
      step();
      const tensors = tf.memory().numTensors;
      const dataIds = tf.engine().backend.numDataIds();
      step();
      expect(tf.memory().numTensors).toBe(tensors);
      expect(tf.engine().backend.numDataIds()).toBe(dataIds);
      tf.dispose([x, gamma, beta, running.mean, running.variance]);
    });
  }
});
