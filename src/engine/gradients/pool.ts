import * as tf from '@tensorflow/tfjs';

interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const pair = (v: number | [number, number]): [number, number] => (Array.isArray(v) ? v : [v, v]);

/**
 * MaxPoolGrad routes dy to the arg-max of each window: linear in dy, piecewise constant in x.
 * Its adjoint gathers dd at the same positions: sum-pool of (dd ⊙ route), where route is the kernel's
 * own routing of ones (so ties resolve exactly as in the first derivative). Exact for the
 * non-overlapping pools the zoo uses; overlapping windows would need a scatter and are refused.
 */
const maxPoolGradGrad: tf.GradConfig = {
  kernelName: 'MaxPoolGrad',
  inputsToSave: ['dy', 'input', 'output'],
  gradFunc: (dd, saved, attrs) => {
    const [dy, input, output] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const { filterSize, strides, pad } = attrs as unknown as PoolAttrs;
    const [fh, fw] = pair(filterSize);
    const [sh, sw] = pair(strides);
    if (fh !== sh || fw !== sw || !(pad === 'valid' || pad === 0)) {
      throw new Error('second derivative of max-pool: only non-overlapping windows with valid padding are supported');
    }
    return {
      dy: () => {
        const route = tf.engine().runKernel('MaxPoolGrad', { dy: tf.onesLike(dy), input, output }, attrs) as tf.Tensor4D;
        const picked = tf.mul(dd as tf.Tensor, route) as tf.Tensor4D;
        return tf.mul(tf.avgPool(picked, [fh, fw], [sh, sw], 'valid'), fh * fw);
      },
      input: () => tf.zerosLike(input),
      output: () => tf.zerosLike(output),
    };
  },
};

/** AvgPoolGrad is the adjoint of AvgPool, so its own adjoint is AvgPool again. */
const avgPoolGradGrad: tf.GradConfig = {
  kernelName: 'AvgPoolGrad',
  inputsToSave: ['input'],
  gradFunc: (dd, saved, attrs) => {
    const [input] = saved as [tf.Tensor4D];
    const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as PoolAttrs;
    return {
      dy: () => tf.avgPool(dd as tf.Tensor4D, filterSize, strides, pad, dimRoundingMode),
      input: () => tf.zerosLike(input),
    };
  },
};

export const poolGradients: tf.GradConfig[] = [maxPoolGradGrad, avgPoolGradGrad];
