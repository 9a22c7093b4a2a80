import * as tf from '@tensorflow/tfjs';
import type { Model, ParamMap } from '../models/types.ts';
import { lossAndGrads } from './step.ts';

export interface SgdOptions {
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/**
 * One SGD step in PyTorch's convention (d = g + wd·θ; b ← μ·b + d; θ ← θ − lr·(nesterov ? d + μ·b : b)).
 * Replaces tensors in `params` and `momentum` (disposing the old ones); returns the loss value.
 */
export function sgdStep(
  model: Model,
  params: ParamMap,
  momentum: Record<string, tf.Tensor>,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  opts: SgdOptions,
): number {
  const { loss, correct, grads, buffers } = lossAndGrads(model, params, x, y);
  correct.dispose();
  const mu = opts.momentum ?? 0;
  const wd = opts.weightDecay ?? 0;
  for (const [name, g] of Object.entries(grads)) {
    const theta = params[name];
    const [next, buf] = tf.tidy(() => {
      const d = wd > 0 ? tf.add(g, tf.mul(theta, wd)) : g;
      if (mu === 0) return [tf.sub(theta, tf.mul(d, opts.lr)), undefined];
      const b = momentum[name] ? tf.add(tf.mul(momentum[name], mu), d) : tf.clone(d);
      const step = opts.nesterov ? tf.add(d, tf.mul(b, mu)) : b;
      return [tf.sub(theta, tf.mul(step, opts.lr)), b];
    });
    theta.dispose();
    params[name] = next;
    if (buf) {
      momentum[name]?.dispose();
      momentum[name] = buf;
    }
    g.dispose();
  }
  for (const [name, t] of Object.entries(buffers)) {
    params[name].dispose();
    params[name] = t;
  }
  const value = loss.dataSync()[0];
  loss.dispose();
  return value;
}
