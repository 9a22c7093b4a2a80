import * as tf from '@tensorflow/tfjs';

/** Kernel name of the fused running average (kernels/webgpu/running-average.ts); other backends compose it. */
export const RUNNING_AVERAGE = 'PipelineRunningAverage';

export interface RunningAverageAttrs {
  /** Weight of the new value m; the old one keeps 1 − m. */
  momentum: number;
}

/**
 * r·(1 − m) + s·m, PyTorch's BN running-statistics update: one kernel where the backend has it
 * instead of three (two Multiply and an Add, each a pass and, on a GPU, a dispatch), rounding each
 * product and the sum to float32 as the composition does.
 */
export function runningAverage(r: tf.Tensor, s: tf.Tensor, momentum: number): tf.Tensor {
  const fused = tf.getKernel(RUNNING_AVERAGE, tf.getBackend()) !== undefined;
  if (fused && r.dtype === 'float32' && s.dtype === 'float32' && tf.util.arraysEqual(r.shape, s.shape)) {
    return tf.engine().runKernel(RUNNING_AVERAGE, { r, s }, { momentum } as unknown as tf.NamedAttrMap) as tf.Tensor;
  }
  return composedRunningAverage(r, s, momentum);
}

export function composedRunningAverage(r: tf.Tensor, s: tf.Tensor, momentum: number): tf.Tensor {
  return tf.tidy(() => tf.add(tf.mul(r, 1 - momentum), tf.mul(s, momentum)));
}
