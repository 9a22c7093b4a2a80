import * as tf from '@tensorflow/tfjs';
import * as ops from '../engine/ops.ts';
import { runningAverage } from '../engine/running-average.ts';
import type { Model, ParamMap } from '../models/types.ts';

export const BN_MOMENTUM = 0.1;

/** Names of the tensors the optimizer updates (everything but BN running statistics). */
export function trainableNames(model: Model): string[] {
  const buffers = new Set(model.buffers);
  return model.specs.map((s) => s.name).filter((n) => !buffers.has(n));
}

/**
 * Loss and gradients of the trainable tensors in train mode, plus the BN running statistics updated
 * PyTorch-style (r ← (1−m)·r + m·batch). Returns new tensors; nothing passed in is disposed.
 */
export function lossAndGrads(
  model: Model,
  params: ParamMap,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
): { loss: tf.Scalar; correct: tf.Scalar; grads: Record<string, tf.Tensor>; buffers: Record<string, tf.Tensor> } {
  const names = trainableNames(model);
  const buffers: Record<string, tf.Tensor> = {};
  let correct: tf.Scalar | undefined;
  const { value, grads } = tf.tidy(() => {
    const f = (...ts: tf.Tensor[]) => {
      const p: ParamMap = { ...params };
      names.forEach((n, i) => (p[n] = ts[i]));
      const out = model.forward(p, x, true);
      for (const [layer, stats] of out.bnStats) {
        const m = `${layer}.running_mean`;
        const v = `${layer}.running_var`;
        buffers[m] = tf.keep(runningAverage(params[m], stats.mean, BN_MOMENTUM));
        buffers[v] = tf.keep(runningAverage(params[v], stats.variance, BN_MOMENTUM));
      }
      correct = tf.keep(countCorrect(out.logits, y));
      return ops.crossEntropy(out.logits, y);
    };
    return tf.valueAndGrads(f)(names.map((n) => params[n]));
  });
  const g: Record<string, tf.Tensor> = {};
  names.forEach((n, i) => (g[n] = grads[i]));
  return { loss: value as tf.Scalar, correct: correct!, grads: g, buffers };
}

/** Number of rows whose arg-max logit is the label (ties go to the lowest class, as torch.argmax). */
export function countCorrect(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(y, 'int32')), 'int32'));
}
