import * as tf from '@tensorflow/tfjs';
import { grad, hvp } from '../engine/hvp.ts';
import * as ops from '../engine/ops.ts';
import type { Model, ParamMap } from '../models/types.ts';
import { maskedTensor, type Masks } from '../masks/masks.ts';

export type BnMode = 'train' | 'eval';

/** A scoring sample already split into chunks (a memory knob; chunks are summed exactly). */
export interface ScoringBatches {
  /** Total examples over all chunks. */
  n: number;
  chunks: () => Iterable<{ x: tf.Tensor4D; y: tf.Tensor1D }>;
}

export interface FeatureOptions {
  bnMode: BnMode;
  temperature: number;
  withHg: boolean;
  /** Evaluate at θ ⊙ m (iterative pruning). */
  masks?: Masks;
}

/** Per prunable tensor, flat host copies in the tensor's layout. */
export interface Features {
  theta: Map<string, Float32Array>;
  grad: Map<string, Float32Array>;
  hg?: Map<string, Float32Array>;
}

/** θ (masked if asked) for the prunable tensors, as tensors in prunable order. */
function weights(model: Model, params: ParamMap, masks?: Masks): tf.Tensor[] {
  return model.prunable.map((p) => maskedTensor(params[p.name], masks?.get(p.name)));
}

/** Running sum over scoring chunks: total + part elementwise, both inputs disposed. */
export function sumChunks(total: tf.Tensor[] | undefined, part: tf.Tensor[]): tf.Tensor[] {
  if (!total) return part;
  const sum = total.map((t, i) => tf.add(t, part[i]));
  tf.dispose([...total, ...part]);
  return sum;
}

/**
 * g = ∇θ L and (optionally) Hg = ∇θ ⟨stop_grad(g), ∇θ L⟩ for the prunable weights, where
 * L = (1/N) Σ_i CE(f(x_i)/T, y_i) over the whole scoring sample. Each chunk contributes its share
 * (n_c/N)·mean_c, so the sum does not depend on the chunking except, in BN train mode, through the
 * batch statistics each chunk normalizes with (as in the reference implementations).
 */
export async function computeFeatures(model: Model, params: ParamMap, data: ScoringBatches, opts: FeatureOptions): Promise<Features> {
  const names = model.prunable.map((p) => p.name);
  const theta = weights(model, params, opts.masks);
  const chunkLoss = (x: tf.Tensor4D, y: tf.Tensor1D) => (ws: tf.Tensor[]) => {
    const p: ParamMap = { ...params };
    names.forEach((n, i) => (p[n] = ws[i]));
    const logits = model.forward(p, x, opts.bnMode === 'train').logits;
    return tf.mul(ops.crossEntropy(logits, y, opts.temperature), x.shape[0] / data.n) as tf.Scalar;
  };
  let g: tf.Tensor[] | undefined;
  for (const { x, y } of data.chunks()) {
    g = sumChunks(g, grad(chunkLoss(x, y), theta));
    tf.dispose([x, y]);
  }
  let hg: tf.Tensor[] | undefined;
  if (opts.withHg) {
    for (const { x, y } of data.chunks()) {
      hg = sumChunks(hg, hvp(chunkLoss(x, y), theta, g!));
      tf.dispose([x, y]);
    }
  }
  const all = [...theta, ...g!, ...(hg ?? [])];
  const host = (await Promise.all(all.map((t) => t.data()))) as Float32Array[];
  tf.dispose(all);
  const part = (k: number) => new Map(names.map((n, i) => [n, host[k * names.length + i]]));
  return { theta: part(0), grad: part(1), hg: hg ? part(2) : undefined };
}

/** ‖∇θ L‖ over the prunable weights (T = 1), at θ ⊙ m when masks are given. */
export async function gradientNorm(model: Model, params: ParamMap, data: ScoringBatches, bnMode: BnMode, masks?: Masks): Promise<number> {
  const f = await computeFeatures(model, params, data, { bnMode, temperature: 1, withHg: false, masks });
  let s = 0;
  for (const g of f.grad.values()) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}
