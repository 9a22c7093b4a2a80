import * as tf from '@tensorflow/tfjs';
import type { Model, ParamMap } from '../models/types.ts';
import { OptimizerSchema, type TrainConfig } from './config.ts';
import type { MaskTensors } from '../masks/masks.ts';
import { Optimizer } from './optimizer.ts';
import { lossAndGrads } from './step.ts';

/**
 * One training step: train-mode forward, backward, optimizer update (masked entries held at zero),
 * BN running statistics. Replaces tensors in `params`; resolves to the batch's mean loss and the number
 * of correct predictions (one host read). Everything but that read is dispatched before the first await.
 */
export async function trainStep(
  model: Model,
  params: ParamMap,
  optimizer: Optimizer,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  lr: number,
  masks?: MaskTensors,
): Promise<{ loss: number; correct: number }> {
  const out = lossAndGrads(model, params, x, y);
  optimizer.step(params, out.grads, lr, masks);
  for (const [name, t] of Object.entries(out.buffers)) {
    params[name].dispose();
    params[name] = t;
  }
  // The count (≤ batch size) is exact in float32, so loss and count share one read.
  const both = tf.tidy(() => tf.stack([out.loss, tf.cast(out.correct, 'float32')]));
  tf.dispose([out.loss, out.correct, ...Object.values(out.grads)]);
  const [loss, correct] = await both.data();
  both.dispose();
  return { loss, correct };
}

/** SGD with momentum in PyTorch's convention, as torch_reference.py's train step. */
export function sgd(lr: number, momentum: number): { optimizer: Optimizer; lr: number } {
  const config: TrainConfig['optimizer'] = OptimizerSchema.parse({ type: 'sgd', lr, momentum });
  return { optimizer: new Optimizer(config), lr };
}
