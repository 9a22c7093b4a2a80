import * as tf from '@tensorflow/tfjs';
import type { Model, ParamMap } from '../models/types.ts';
import { OptimizerSchema, type TrainConfig } from './config.ts';
import { type MaskTensors, Optimizer } from './optimizer.ts';
import { lossAndGrads } from './step.ts';

/**
 * One training step: train-mode forward, backward, optimizer update (masked entries held at zero),
 * BN running statistics. Replaces tensors in `params`; returns the batch's mean loss and the number
 * of correct predictions.
 */
export function trainStep(
  model: Model,
  params: ParamMap,
  optimizer: Optimizer,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  lr: number,
  masks?: MaskTensors,
): { loss: number; correct: number } {
  const out = lossAndGrads(model, params, x, y);
  optimizer.step(params, out.grads, lr, masks);
  for (const [name, t] of Object.entries(out.buffers)) {
    params[name].dispose();
    params[name] = t;
  }
  const result = { loss: out.loss.dataSync()[0], correct: out.correct.dataSync()[0] };
  tf.dispose([out.loss, out.correct, ...Object.values(out.grads)]);
  return result;
}

/** SGD with momentum in PyTorch's convention, as torch_bench.py's train step. */
export function sgd(lr: number, momentum: number): { optimizer: Optimizer; lr: number } {
  const config: TrainConfig['optimizer'] = OptimizerSchema.parse({ type: 'sgd', lr, momentum });
  return { optimizer: new Optimizer(config), lr };
}
