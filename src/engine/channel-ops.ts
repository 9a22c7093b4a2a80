import * as tf from '@tensorflow/tfjs';
import { CHANNEL_AFFINE2, CHANNEL_DOT } from './kernels/batch-norm.ts';

const kernelRuns = (name: string, ...ts: tf.Tensor[]) => tf.getKernel(name, tf.getBackend()) !== undefined && ts.every((t) => t.dtype === 'float32');

/** Σ over every axis but the last: [.., C] → [C] (wasm: over the original axes, 2× faster than over a [M, C] reshape). */
export const channelSum = (z: tf.Tensor) =>
  tf.sum(
    z,
    z.shape.slice(0, -1).map((_, i) => i),
  ) as tf.Tensor1D;

/**
 * Σ over every axis but the last of a·b: [.., C] → [C]. One pass (summed in float64) where the
 * backend has the kernel (kernels/batch-norm.ts), else Mul and Sum (tfjs-wasm's Sum over leading axes
 * transposes first, and runs on one thread).
 */
export function channelDot(a: tf.Tensor, b: tf.Tensor): tf.Tensor1D {
  if (kernelRuns(CHANNEL_DOT, a, b) && tf.util.arraysEqual(a.shape, b.shape)) return tf.engine().runKernel(CHANNEL_DOT, { a, b }) as tf.Tensor1D;
  return tf.tidy(() => channelSum(tf.mul(a, b)));
}

/** a·α + b·β with α, β per channel ([C], the last axis): one pass where the backend has the kernel, else two Mul and an Add. */
export function channelAffine2(a: tf.Tensor, alpha: tf.Tensor, b: tf.Tensor, beta: tf.Tensor): tf.Tensor {
  const c = a.shape[a.shape.length - 1];
  if (kernelRuns(CHANNEL_AFFINE2, a, alpha, b, beta) && tf.util.arraysEqual(a.shape, b.shape) && alpha.size === c && beta.size === c) {
    return tf.engine().runKernel(CHANNEL_AFFINE2, { a, alpha, b, beta }) as tf.Tensor;
  }
  return tf.add(tf.mul(a, alpha), tf.mul(b, beta));
}
