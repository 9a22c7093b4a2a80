import * as tf from '@tensorflow/tfjs';
import { fusedBatchNormActive, fusedBatchNormEval, fusedBatchNormTrain } from './kernels/batch-norm.ts';

/**
 * Network building blocks whose gradients are themselves differentiable (after
 * registerSecondOrderGradients), so every forward pass supports exact Hessian-vector products:
 * primitives, plus our own fused batch-norm kernels whose registered gradients are closed forms
 * built from differentiable ops. No tfjs fused ops, no customGrad ops (tf.losses, tf.batchNorm).
 */

export type Padding = 'same' | 'valid' | number;

export function conv2d(x: tf.Tensor4D, w: tf.Tensor4D, stride = 1, pad: Padding = 'same'): tf.Tensor4D {
  return tf.conv2d(x, w, stride, pad);
}

export function dense(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  const y = tf.matMul(x, w) as tf.Tensor2D;
  return b ? (tf.add(y, b) as tf.Tensor2D) : y;
}

export interface BatchStats {
  mean: tf.Tensor1D;
  /** Unbiased variance, as PyTorch folds into running_var. */
  variance: tf.Tensor1D;
}

export const BN_EPS = 1e-5;

/**
 * Batch norm over all axes but the last. Training mode normalizes with the batch's own (biased)
 * statistics and returns them for the running-average update; eval mode uses the running ones.
 *
 * On wasm and cpu this runs the fused host kernels of kernels/batch-norm.ts (one or two passes per
 * tensor each way; gradients of every order registered in gradients/batch-norm.ts). Elsewhere
 * (tensorflow backends), or with PIPELINE_BN_FUSED=0, it is composed from primitives.
 */
export function batchNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, running: BatchStats, training: boolean): { y: tf.Tensor; batch?: BatchStats } {
  const count = x.size / x.shape[x.rank - 1];
  if (fusedBatchNormActive()) {
    if (!training) return { y: fusedBatchNormEval(x, gamma, beta, running.mean, running.variance, BN_EPS) };
    const [y, mean, variance] = fusedBatchNormTrain(x, gamma, beta, BN_EPS);
    return { y, batch: { mean, variance: tf.mul(variance, count / Math.max(1, count - 1)) as tf.Tensor1D } };
  }
  if (!training) {
    const scale = tf.div(gamma, tf.sqrt(tf.add(running.variance, BN_EPS)));
    return { y: tf.add(tf.mul(tf.sub(x, running.mean), scale), beta) };
  }
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const mean = tf.mean(x, axes, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), axes, true);
  const y = tf.add(tf.mul(tf.div(centered, tf.sqrt(tf.add(variance, BN_EPS))), gamma), beta);
  const unbiased = tf.mul(variance, count / Math.max(1, count - 1));
  return { y, batch: { mean: tf.reshape(mean, [-1]) as tf.Tensor1D, variance: tf.reshape(unbiased, [-1]) as tf.Tensor1D } };
}

export const relu = (x: tf.Tensor) => tf.relu(x);

export const maxPool = (x: tf.Tensor4D, k = 2) => tf.maxPool(x, k, k, 'valid');

export const avgPool = (x: tf.Tensor4D, k = 2) => tf.avgPool(x, k, k, 'valid');

export const globalAvgPool = (x: tf.Tensor4D) => tf.mean(x, [1, 2]) as tf.Tensor2D;

export const flatten = (x: tf.Tensor) => tf.reshape(x, [x.shape[0], -1]) as tf.Tensor2D;

/**
 * Mean softmax cross-entropy of logits/T against integer labels: log Σ exp(z/T) − z_y/T.
 * log-sum-exp is shifted by the row max; the max's own gradient cancels exactly, and its comparison
 * ops carry zero gradient, so this is twice differentiable.
 */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, temperature = 1): tf.Scalar {
  const z = temperature === 1 ? logits : tf.div(logits, temperature);
  const lse = tf.logSumExp(z, 1);
  const picked = tf.sum(tf.mul(z, tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1])), 1);
  return tf.mean(tf.sub(lse, picked));
}
