import * as tf from '@tensorflow/tfjs';
import * as ops from '../../engine/ops.ts';
import type { Model, ParamMap } from '../../models/types.ts';
import { Rng } from '../../util/rng.ts';
import { type BnMode, type ScoringBatches, sumChunks } from '../features.ts';

/** Criteria that score channels: the gate analogues of crop (|c ⊙ ∂⟨g, ∇θL⟩/∂c|), snip (|c ⊙ ∂L/∂c|) and random. */
export const STRUCTURED_CRITERIA = ['crop', 'snip', 'random'] as const;
export type StructuredCriterion = (typeof STRUCTURED_CRITERIA)[number];

export interface ChannelScoreInput {
  model: Model;
  params: ParamMap;
  data?: ScoringBatches;
  bnMode: BnMode;
  /** Current gates (1 alive, 0 removed) per channel group. */
  alive: Map<string, Uint8Array>;
  seed: number;
  round: number;
}

type Tensors = tf.Tensor[];

/**
 * Keep-scores per channel group. For crop, z = ⟨stop_grad(g), ∇θ L(θ, c)⟩ with g = ∇θ L over the
 * prunable weights and c the channel gates (EarlyCroP's structured score, the gate block of H·(g, 0));
 * L is the mean cross-entropy (T = 1) over the whole scoring sample, chunks summed exactly.
 */
export async function channelScores(criterion: StructuredCriterion, input: ChannelScoreInput): Promise<Map<string, Float32Array>> {
  const { model, params, data, alive } = input;
  const groups = model.channelGroups.map((g) => g.name);
  if (criterion === 'random') {
    const rng = new Rng(input.seed).fork(1000 + input.round);
    return new Map(model.channelGroups.map((g) => [g.name, Float32Array.from({ length: g.size }, () => rng.next())]));
  }
  const names = model.prunable.map((p) => p.name);
  const theta = names.map((n) => params[n]);
  const gates = groups.map((g) => tf.tensor1d(Float32Array.from(alive.get(g)!)));
  const lossOn = (x: tf.Tensor4D, y: tf.Tensor1D) => (ws: Tensors, cs: Tensors) => {
    const p: ParamMap = { ...params };
    names.forEach((n, i) => (p[n] = ws[i]));
    const g = Object.fromEntries(groups.map((n, i) => [n, cs[i] as tf.Tensor1D]));
    const logits = model.forward(p, x, input.bnMode === 'train', { gates: g }).logits;
    return tf.mul(ops.crossEntropy(logits, y), x.shape[0] / data!.n) as tf.Scalar;
  };
  let dz: Tensors | undefined;
  if (criterion === 'snip') {
    for (const { x, y } of data!.chunks()) {
      const loss = lossOn(x, y);
      dz = sumChunks(
        dz,
        tf.tidy(() => tf.grads((...cs: Tensors) => loss(theta, cs))(gates)),
      );
      tf.dispose([x, y]);
    }
  } else {
    let g: Tensors | undefined;
    for (const { x, y } of data!.chunks()) {
      const loss = lossOn(x, y);
      g = sumChunks(
        g,
        tf.tidy(() => tf.grads((...ws: Tensors) => loss(ws, gates))(theta)),
      );
      tf.dispose([x, y]);
    }
    for (const { x, y } of data!.chunks()) {
      const loss = lossOn(x, y);
      const z = (...cs: Tensors) => {
        const gw = tf.grads((...ws: Tensors) => loss(ws, cs))(theta);
        return tf.addN(gw.map((t, i) => tf.sum(tf.mul(t, g![i])))) as tf.Scalar;
      };
      dz = sumChunks(
        dz,
        tf.tidy(() => tf.grads(z)(gates)),
      );
      tf.dispose([x, y]);
    }
    tf.dispose(g!);
  }
  tf.dispose(gates);
  const host = await Promise.all(dz!.map((t) => t.data()));
  tf.dispose(dz!);
  return new Map(
    groups.map((n, i) => {
      const a = alive.get(n)!;
      return [n, Float32Array.from(host[i], (v, j) => Math.abs(a[j] * v))];
    }),
  );
}
