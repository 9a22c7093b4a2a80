import * as tf from '@tensorflow/tfjs';
import type { Model, ParamMap } from '../models/types.ts';

/**
 * ∂R/∂w for R = Σ f(1): the network with `base` as its parameters but `weights` (one per prunable
 * tensor, in order) as its prunable tensors, on one all-ones input in BN eval mode. With every value
 * positive, R sums the products of the weights along every input→output path (SynFlow's path flow).
 * Call inside tf.tidy.
 */
export function pathFlowGradients(model: Model, base: ParamMap, weights: tf.Tensor[]): tf.Tensor[] {
  const ones = tf.ones([1, ...model.config.inputShape]) as tf.Tensor4D;
  const flow = (...w: tf.Tensor[]) => {
    const p = { ...base };
    model.prunable.forEach((t, i) => (p[t.name] = w[i]));
    return tf.sum(model.forward(p, ones, false).logits) as tf.Scalar;
  };
  return tf.grads(flow)(weights);
}
