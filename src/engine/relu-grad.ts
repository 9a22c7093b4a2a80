import * as tf from '@tensorflow/tfjs';

/** Kernel name of the fused ReLU gradient (kernels/wasm/relu-grad.ts, kernels/webgpu/relu-grad.ts); other backends compose it. */
export const RELU_GRAD = 'PipelineReluGrad';

/**
 * dy · step(x): the gradient of relu(x), one kernel where the backend has it instead of tfjs's three
 * (Step, Cast, Multiply), with the same bits (step(x) is 1 for x > 0, 0 elsewhere, NaN where x is).
 */
export function reluGrad(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  if (tf.getKernel(RELU_GRAD, tf.getBackend()) !== undefined && dy.dtype === 'float32' && x.dtype === 'float32' && tf.util.arraysEqual(dy.shape, x.shape)) {
    return tf.engine().runKernel(RELU_GRAD, { dy, x }) as tf.Tensor;
  }
  return composedReluGrad(dy, x);
}

/** tfjs's own ReLU gradient. */
export function composedReluGrad(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return tf.mul(dy, tf.cast(tf.step(x), 'float32'));
}
