import * as tf from '@tensorflow/tfjs';
import { channelAffine2, channelDot, channelSum } from '../channel-ops.ts';
import {
  BATCH_NORM,
  BATCH_NORM_EVAL,
  BATCH_NORM_EVAL_GRAD,
  BATCH_NORM_GRAD,
  type BatchNormAttrs,
  CHANNEL_AFFINE2,
  CHANNEL_DOT,
} from '../kernels/batch-norm.ts';

/**
 * Gradients of the fused batch-norm kernels (kernels/batch-norm.ts). First order calls the fused
 * backward kernels; the backward kernels' own gradients (what a Hessian-vector product
 * differentiates) are closed forms built from differentiable ops — elementwise primitives, sums, and
 * the fused kernels themselves, whose gradients are registered here — so derivatives of every order
 * stay exact (the batchnorm tests check up to third order against the primitive composition).
 * tfjs saves outputs as tape-disconnected copies: the forward's saved μ, v serve only as values for
 * the first-order kernel, and the second-order closed forms recompute them from x on the tape.
 *
 * Notation per channel: M elements, μ, v the batch's mean and biased variance, r = 1/√(v + ε),
 * x̂ = (x − μ)·r, S[·] a sum over the M elements, Π(z) = z − S[z]/M − x̂·S[z·x̂]/M (the projection in
 * the train-mode backward: dx = γ·r·Π(dy) + dμ/M + 2·dv·(x − μ)/M).
 */

type T = tf.Tensor;

const run = (kernel: string, inputs: Record<string, T>, attrs: BatchNormAttrs) =>
  tf.engine().runKernel(kernel, inputs as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as T[];

const runOne = (kernel: string, inputs: Record<string, T>, attrs: BatchNormAttrs) =>
  tf.engine().runKernel(kernel, inputs as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as T;

const rsqrtPlus = (v: T, eps: number) => tf.rsqrt(tf.add(v, eps));

/**
 * Train-mode forward: y = γ·x̂ + β and the batch statistics μ, v (their gradients, rarely used, are
 * exact too). The saved μ, v outputs are tape-disconnected copies, which is fine here: they only
 * give the backward kernel its values, and its own gradient recomputes them from x.
 */
const batchNormGrad: tf.GradConfig = {
  kernelName: BATCH_NORM,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const [dy, dmean, dvariance] = dys as T[];
    const [x, gamma, mean, variance] = saved;
    const [dx, dgamma, dbeta] = run(BATCH_NORM_GRAD, { dy, x, gamma, mean, variance, dmean, dvariance }, attrs as unknown as BatchNormAttrs);
    return { x: () => dx, gamma: () => dgamma, beta: () => dbeta };
  },
};

/**
 * Gradient of the train-mode backward (dx, dγ, dβ) = G(dy, x, γ, μ, v, dμ, dv) against upstream
 * (a, b, c). With Q = S[a·x̂], D = S[dy·x̂], P = S[a·dy] − S[a]·S[dy]/M:
 *   ∂/∂dy = γ·r·Π(a) + b·x̂ + c                       = G(a, …, dμ = c·M, dv = b·r·M/2).dx
 *   ∂/∂γ  = r·(P − Q·D/M)
 *   ∂/∂x  = r·Π(u) − (w·r²/M)·x̂ + (2·dv/M)·(a − S[a]/M),  u = −γ·r·(D·a + Q·dy)/M + b·dy,  w = γ·(P − Q·D/M)
 *         = G(u′, x, γ = 1, μ, v, 0, dv′).dx  with u′ = u + 2·dv·a/(M·r), dv′ = −w·r³/2 + dv·Q·r/M
 *   ∂/∂dμ = S[a]/M,   ∂/∂dv = 2·Q/(M·r)
 * The μ and v inputs must be x's own batch statistics (the forward's gradient guarantees it): the
 * x-gradient above already includes their dependence on x, so their own gradients are zero.
 */
const batchNormGradGrad: tf.GradConfig = {
  kernelName: BATCH_NORM_GRAD,
  inputsToSave: ['dy', 'x', 'gamma', 'dvariance'],
  gradFunc: (dds, saved, attrs) => {
    const [ga, gb, gc] = dds as T[];
    const [dy, x, gamma, dvariance] = saved;
    const at = attrs as unknown as BatchNormAttrs;
    const c = gamma.size;
    const m = x.size / c;
    // The saved mean/variance are disconnected copies of the forward's outputs: recompute them on the tape.
    const [mu, v] = tf.tidy(() => run(BATCH_NORM, { x, gamma: tf.onesLike(gamma), beta: tf.zerosLike(gamma) }, at).slice(1));
    const r = rsqrtPlus(v, at.epsilon);
    const gr = tf.mul(gamma, r);
    // ∂/∂dy in one kernel call; its other outputs are Q = S[a·x̂] and S[a].
    const [gdy, q, sa] = run(BATCH_NORM_GRAD, { dy: ga, x, gamma, mean: mu, variance: v, dmean: tf.mul(gc, m), dvariance: tf.mul(gb, tf.mul(r, m / 2)) }, at);
    // D = S[dy·x̂] and S[dy]: this kernel's own dγ, dβ outputs, recomputed on the tape rather than saved.
    const [dd, sdy] = tf.tidy(() => {
      const zeros = tf.zerosLike(gamma);
      return run(BATCH_NORM_GRAD, { dy, x, gamma: tf.onesLike(gamma), mean: mu, variance: v, dmean: zeros, dvariance: zeros }, at).slice(1);
    });
    const sady = channelDot(ga, dy);
    const pqd = tf.sub(tf.sub(sady, tf.div(tf.mul(sa, sdy), m)), tf.div(tf.mul(q, dd), m)); // P − Q·D/M
    return {
      dy: () => gdy,
      gamma: () => tf.mul(r, pqd),
      x: () => {
        const w = tf.mul(gamma, pqd);
        const alpha = tf.add(tf.div(tf.mul(tf.neg(gr), dd), m), tf.div(tf.mul(dvariance, 2 / m), r));
        const betaC = tf.sub(gb, tf.div(tf.mul(gr, q), m));
        const u = channelAffine2(ga, alpha, dy, betaC);
        const r3 = tf.mul(tf.square(r), r);
        const dv2 = tf.add(tf.mul(tf.mul(w, r3), -0.5), tf.div(tf.mul(tf.mul(dvariance, q), r), m));
        const zeros = tf.zerosLike(gamma);
        return run(BATCH_NORM_GRAD, { dy: u, x, gamma: tf.onesLike(gamma), mean: mu, variance: v, dmean: zeros, dvariance: dv2 }, at)[0];
      },
      mean: () => tf.zerosLike(gamma),
      variance: () => tf.zerosLike(gamma),
      dmean: () => tf.div(sa, m),
      dvariance: () => tf.div(tf.mul(q, 2 / m), r),
    };
  },
};

/** Eval mode: y = γ·r·(x − μ) + β with running μ, v (constants for training, but their gradients are exact too). */
const batchNormEvalGrad: tf.GradConfig = {
  kernelName: BATCH_NORM_EVAL,
  inputsToSave: ['x', 'gamma', 'mean', 'variance'],
  gradFunc: (dy, saved, attrs) => {
    const [x, gamma, mean, variance] = saved;
    const at = attrs as unknown as BatchNormAttrs;
    const [dx, dgamma, dbeta] = run(BATCH_NORM_EVAL_GRAD, { dy: dy as T, x, gamma, mean, variance }, at);
    return {
      x: () => dx,
      gamma: () => dgamma,
      beta: () => dbeta,
      // ∂y/∂μ = −γ·r; ∂y/∂v = −γ·r²·x̂/2.
      mean: () => tf.neg(tf.mul(tf.mul(gamma, rsqrtPlus(variance, at.epsilon)), dbeta)),
      variance: () => tf.mul(tf.mul(gamma, tf.div(dgamma, tf.add(variance, at.epsilon))), -0.5),
    };
  },
};

/**
 * Gradient of the eval backward (dx, dγ, dβ) = (γ·r·dy, S[dy·x̂], S[dy]) against (a, b, c):
 *   ∂/∂dy = γ·r·a + b·x̂ + c,  ∂/∂x = b·r·dy,  ∂/∂γ = r·S[a·dy],
 *   ∂/∂μ = −b·r·S[dy],  ∂/∂v = −r²·(γ·r·S[a·dy] + b·S[dy·x̂])/2.
 */
const batchNormEvalGradGrad: tf.GradConfig = {
  kernelName: BATCH_NORM_EVAL_GRAD,
  inputsToSave: ['dy', 'x', 'gamma', 'mean', 'variance'],
  gradFunc: (dds, saved, attrs) => {
    const [ga, gb, gc] = dds as T[];
    const [dy, x, gamma, mean, variance] = saved;
    const at = attrs as unknown as BatchNormAttrs;
    const r = () => rsqrtPlus(variance, at.epsilon);
    const sady = () => channelDot(ga, dy);
    return {
      // b·x̂ + c is the eval forward itself with (γ, β) = (b, c).
      dy: () => tf.add(tf.mul(ga, tf.mul(gamma, r())), runOne(BATCH_NORM_EVAL, { x, gamma: gb, beta: gc, mean, variance }, at)),
      x: () => tf.mul(dy, tf.mul(gb, r())),
      gamma: () => tf.mul(r(), sady()),
      mean: () => tf.neg(tf.mul(tf.mul(gb, r()), channelSum(dy))),
      variance: () => {
        const rr = r();
        const sdyxhat = tf.mul(channelDot(dy, tf.sub(x, mean)), rr);
        return tf.mul(tf.mul(tf.square(rr), tf.add(tf.mul(tf.mul(gamma, rr), sady()), tf.mul(gb, sdyxhat))), -0.5);
      },
    };
  },
};

/** d/da Σ a·b = g·b, d/db = g·a (g per channel). */
const channelDotGrad: tf.GradConfig = {
  kernelName: CHANNEL_DOT,
  inputsToSave: ['a', 'b'],
  gradFunc: (g, [a, b]) => ({ a: () => tf.mul(b, g as T), b: () => tf.mul(a, g as T) }),
};

/** d(a·α + b·β): g·α, Σ g·a, g·β, Σ g·b. */
const channelAffine2Grad: tf.GradConfig = {
  kernelName: CHANNEL_AFFINE2,
  inputsToSave: ['a', 'alpha', 'b', 'beta'],
  gradFunc: (g, [a, alpha, b, beta]) => ({
    a: () => tf.mul(g as T, alpha),
    alpha: () => tf.reshape(channelDot(g as T, a), alpha.shape),
    b: () => tf.mul(g as T, beta),
    beta: () => tf.reshape(channelDot(g as T, b), beta.shape),
  }),
};

export const batchNormGradients: tf.GradConfig[] = [
  batchNormGrad,
  batchNormGradGrad,
  batchNormEvalGrad,
  batchNormEvalGradGrad,
  channelDotGrad,
  channelAffine2Grad,
];
