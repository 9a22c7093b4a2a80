import * as tf from '@tensorflow/tfjs';

export type LossOfParams = (params: tf.Tensor[]) => tf.Scalar;

/** ∇θ L as a list matching `params`. */
export function grad(loss: LossOfParams, params: tf.Tensor[]): tf.Tensor[] {
  return tf.tidy(() => tf.grads((...ps: tf.Tensor[]) => loss(ps))(params));
}

/**
 * Hessian-vector product H·v = ∇θ ⟨∇θ L, v⟩ by double backward (v held constant). Exact up to
 * float rounding once registerSecondOrderGradients() has run (initBackend does it).
 */
export function hvp(loss: LossOfParams, params: tf.Tensor[], v: tf.Tensor[]): tf.Tensor[] {
  if (v.length !== params.length) throw new Error(`hvp: ${params.length} params but ${v.length} vectors`);
  return tf.tidy(() => {
    const inner = (...ps: tf.Tensor[]) => {
      const g = tf.grads((...qs: tf.Tensor[]) => loss(qs))(ps);
      return tf.addN(g.map((gi, i) => tf.sum(tf.mul(gi, v[i])))) as tf.Scalar;
    };
    return tf.grads(inner)(params);
  });
}
