import * as tf from '@tensorflow/tfjs';
import { RELU_GRAD, reluGrad } from '../relu-grad.ts';

/**
 * ReLU's gradient as one fused op (relu-grad.ts). Its own gradient is linear in dy, with step(x)
 * piecewise constant: ∂/∂dy = ddy · step(x), ∂/∂x = 0 — what tfjs's Mul, Cast and Step gradients give.
 */
export const reluGradients: tf.GradConfig[] = [
  {
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => reluGrad(dy as tf.Tensor, saved[0]) }),
  },
  {
    kernelName: RELU_GRAD,
    inputsToSave: ['x'],
    gradFunc: (ddy, saved) => ({ dy: () => reluGrad(ddy as tf.Tensor, saved[0]), x: () => tf.zerosLike(saved[0]) }),
  },
];
