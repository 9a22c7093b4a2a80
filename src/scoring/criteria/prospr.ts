import * as tf from '@tensorflow/tfjs';
import { grad, hvp, type LossOfParams } from '../../engine/hvp.ts';
import * as ops from '../../engine/ops.ts';
import type { Model, ParamMap } from '../../models/types.ts';
import { maskedTensor, type Masks } from '../../masks/masks.ts';
import { type BnMode, type ScoringBatches, sumChunks } from '../features.ts';
import { resolveOptions } from './options.ts';
import type { Criterion } from './types.ts';

export interface ProsprOptions {
  /** Inner SGD steps M. */
  steps: number;
  /** Inner learning rate α. */
  lr: number;
}

/** The loss over the scoring sample as a function of the trainable tensors, and the sum of a per-chunk quantity. */
function sampleLoss(model: Model, params: ParamMap, data: ScoringBatches, bnMode: BnMode) {
  const buffers = new Set(model.buffers);
  const names = model.specs.map((s) => s.name).filter((n) => !buffers.has(n));
  const lossOf =
    (x: tf.Tensor4D, y: tf.Tensor1D): LossOfParams =>
    (ps) => {
      const p: ParamMap = { ...params };
      names.forEach((n, i) => (p[n] = ps[i]));
      const logits = model.forward(p, x, bnMode === 'train').logits;
      return tf.mul(ops.crossEntropy(logits, y), x.shape[0] / data.n) as tf.Scalar;
    };
  const overSample = (f: (loss: LossOfParams) => tf.Tensor[]) => {
    let total: tf.Tensor[] | undefined;
    for (const { x, y } of data.chunks()) {
      total = sumChunks(total, f(lossOf(x, y)));
      tf.dispose([x, y]);
    }
    return total!;
  };
  return { names, overSample };
}

/**
 * The inner trajectory θ'₀ … θ'_M over every trainable tensor (BN affine and biases too, named by
 * `names`): θ'₀ = θ (prunable tensors masked by `masks` when given), θ'_{k+1} = θ'_k − α ∇L(θ'_k), L the
 * mean cross-entropy of the whole scoring sample. The caller disposes the tensors; `overSample` sums a per-chunk quantity of that loss.
 */
export function prosprPath(model: Model, params: ParamMap, data: ScoringBatches, bnMode: BnMode, opts: ProsprOptions, masks?: Masks) {
  const { names, overSample } = sampleLoss(model, params, data, bnMode);
  const start = names.map((n) => maskedTensor(params[n], masks?.get(n)));
  const path = [start];
  for (let k = 0; k < opts.steps; k++) {
    const g = overSample((loss) => grad(loss, path[k]));
    path.push(path[k].map((t, i) => tf.tidy(() => tf.sub(t, tf.mul(g[i], opts.lr)))));
    tf.dispose(g);
  }
  return { names, path, overSample };
}

/**
 * ∂L(θ'_M)/∂c at c = 1, where θ'₀ = θ ⊙ c (c over the prunable weights) and θ'_k is prosprPath's
 * trajectory. Reverse mode through the steps: a_M = ∇L(θ'_M), a_k = a_{k+1} − α H(θ'_k) a_{k+1} (exact
 * Hessian-vector products), and ∂L/∂c = θ ⊙ a₀.
 */
export async function prosprMetaGradient(
  model: Model,
  params: ParamMap,
  data: ScoringBatches,
  bnMode: BnMode,
  opts: ProsprOptions,
  masks?: Masks,
): Promise<Map<string, Float32Array>> {
  const { names, path, overSample } = prosprPath(model, params, data, bnMode, opts, masks);
  const prunable = new Set(model.prunable.map((p) => p.name));
  let a = overSample((loss) => grad(loss, path[opts.steps]));
  for (let k = opts.steps - 1; k >= 0; k--) {
    const ha = overSample((loss) => hvp(loss, path[k], a));
    const next = a.map((t, i) => tf.tidy(() => tf.sub(t, tf.mul(ha[i], opts.lr))));
    tf.dispose([...a, ...ha]);
    a = next;
  }
  const out = new Map<string, Float32Array>();
  for (let i = 0; i < names.length; i++) {
    if (!prunable.has(names[i])) continue;
    const meta = tf.tidy(() => tf.mul(params[names[i]], a[i]));
    out.set(names[i], (await meta.data()) as Float32Array);
    meta.dispose();
  }
  tf.dispose([...path.flat(), ...a]);
  return out;
}

/**
 * ProsPr (Alizadeh et al. 2022, "Prospect Pruning"): |∂L(θ_M)/∂c|, the meta-gradient of the loss after M
 * steps of SGD on the masked network with respect to the mask (prosprMetaGradient). Defaults are the
 * authors' command-line defaults: 3 inner steps, lr 0.1, no momentum, the same batch at every step, BN in
 * train mode, one shot.
 */
export const prospr: Criterion = {
  name: 'prospr',
  description: '|∂L(θ after M SGD steps)/∂mask|, meta-gradient through the steps (Alizadeh et al. 2022)',
  needsData: true,
  defaultBnMode: 'train',
  defaultIterations: 1,
  options: {
    steps: { default: 3, description: 'inner SGD steps before the loss whose gradient scores the mask', integer: true, min: 0 },
    lr: { default: 0.1, description: 'learning rate of the inner steps' },
  },
  score: async ({ model, params, data, bnMode, masks, options: given }) => {
    const options = resolveOptions(prospr, given);
    const meta = await prosprMetaGradient(model, params, data!, bnMode, { steps: options.steps, lr: options.lr }, masks);
    return { scores: new Map([...meta].map(([n, m]) => [n, m.map(Math.abs)])) };
  },
};
