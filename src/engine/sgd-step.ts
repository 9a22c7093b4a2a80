import * as tf from '@tensorflow/tfjs';

/** Kernel name of one fused SGD step (kernels/wasm/sgd-step.ts); backends without it compose the step. */
export const SGD_STEP = 'PipelineSgdStep';

export interface SgdStepInputs {
  theta: tf.TensorInfo;
  g: tf.TensorInfo;
  /** b_prev, given only with momentum after the first step. */
  prev?: tf.TensorInfo;
  mask?: tf.TensorInfo;
}

/** A backend's fused step: θ' and, with momentum, b. */
export type SgdStepKernel = (inputs: SgdStepInputs, attrs: SgdStepAttrs, backend: tf.KernelBackend) => tf.TensorInfo[];

/** Registers (or replaces) `backendName`'s SGD_STEP kernel. */
export function registerSgdStepKernel(backendName: string, kernel: SgdStepKernel): void {
  if (tf.getKernel(SGD_STEP, backendName) !== undefined) tf.unregisterKernel(SGD_STEP, backendName);
  tf.registerKernel({
    kernelName: SGD_STEP,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => kernel(inputs as unknown as SgdStepInputs, attrs as unknown as SgdStepAttrs, backend as tf.KernelBackend),
  });
}

export interface SgdStepAttrs {
  lr: number;
  /** μ; 0: plain SGD, no momentum buffer. */
  momentum: number;
  /** L2 weight decay added to the gradient; 0: none. */
  weightDecay: number;
  nesterov: boolean;
}

/**
 * One SGD step in PyTorch's convention: d = g + wd·θ, b = μ·b_prev + d (b = d on the first step),
 * u = d + μ·b (Nesterov) or b, θ' = θ − lr·u. With a mask, θ' and b are multiplied by it (pruned
 * entries stay exactly zero). Returns θ' and, with momentum, b. The fused kernel, where the backend
 * has one, rounds every operation to float32 in the same order as this composition, so both give the
 * same bits.
 */
export function sgdStep(
  theta: tf.Tensor,
  g: tf.Tensor,
  prev: tf.Tensor | undefined,
  mask: tf.Tensor | undefined,
  attrs: SgdStepAttrs,
): { theta: tf.Tensor; momentum?: tf.Tensor } {
  const float32 = [theta, g, prev, mask].every((t) => t === undefined || t.dtype === 'float32');
  if (tf.getKernel(SGD_STEP, tf.getBackend()) !== undefined && float32) {
    const inputs: tf.NamedTensorMap = { theta, g };
    if (prev !== undefined && attrs.momentum !== 0) inputs.prev = prev;
    if (mask !== undefined) inputs.mask = mask;
    const out = tf.engine().runKernel(SGD_STEP, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    return { theta: out[0], momentum: out[1] };
  }
  return composedSgdStep(theta, g, prev, mask, attrs);
}

/** The step from tfjs ops (each one a pass over the tensor). */
export function composedSgdStep(
  theta: tf.Tensor,
  g: tf.Tensor,
  prev: tf.Tensor | undefined,
  mask: tf.Tensor | undefined,
  attrs: SgdStepAttrs,
): { theta: tf.Tensor; momentum?: tf.Tensor } {
  return tf.tidy(() => {
    const { lr, momentum: mu, weightDecay, nesterov } = attrs;
    const d = weightDecay > 0 ? tf.add(g, tf.mul(theta, weightDecay)) : g;
    let b: tf.Tensor | undefined;
    let u = d;
    if (mu !== 0) {
      b = prev ? tf.add(tf.mul(prev, mu), d) : tf.clone(d);
      u = nesterov ? tf.add(d, tf.mul(b, mu)) : b;
    }
    const stepped = tf.sub(theta, tf.mul(u, lr));
    if (!mask) return b ? { theta: stepped, momentum: b } : { theta: stepped };
    return b ? { theta: tf.mul(stepped, mask), momentum: tf.mul(b, mask) } : { theta: tf.mul(stepped, mask) };
  });
}
