import * as tf from '@tensorflow/tfjs';
import { keptCount, keptCounts, type Masks } from '../masks/masks.ts';
import type { Model, ParamMap } from '../models/types.ts';
import { pathFlowGradients } from './path-flow.ts';
import { type Scores, selectMasks } from './select.ts';

/**
 * Kept weights that lie on no path from the input to the output of the masked network ("inactive"
 * weights; effective sparsity, Vysogorets & Kempe 2023): a weight whose input unit nothing reaches, or
 * whose output unit reaches nothing, cannot carry signal, yet it counts against the budget.
 *
 * Found with one forward/backward pass of the masked net made positive: kept weights set to
 * cout/kept (so every layer's mean fan-in sum is 1 and deep nets neither overflow nor underflow),
 * biases, BN shifts and means 0, BN scales and variances 1, input all ones, BN in eval mode. Every
 * activation is then a sum of positive path products, so ∂Σf/∂w > 0 exactly when w is on a path.
 */
export async function disconnectedWeights(model: Model, params: ParamMap, masks: Masks): Promise<Masks> {
  const names = model.prunable.map((p) => p.name);
  const grads = tf.tidy(() => {
    const linear: ParamMap = {};
    for (const [n, t] of Object.entries(params)) {
      if (/(\.bias|\.beta|running_mean)$/.test(n)) linear[n] = tf.zerosLike(t);
      else if (/(\.gamma|running_var)$/.test(n)) linear[n] = tf.onesLike(t);
      else linear[n] = tf.abs(t);
    }
    const ws = model.prunable.map((p) => {
      const bits = masks.get(p.name)!;
      const kept = bits.reduce((a, b) => a + b, 0);
      const scale = kept > 0 ? p.shape[p.shape.length - 1] / kept : 0;
      return tf.tensor(
        Float32Array.from(bits, (b) => b * scale),
        p.shape,
      );
    });
    return pathFlowGradients(model, linear, ws);
  });
  const host = (await Promise.all(grads.map((g) => g.data()))) as Float32Array[];
  tf.dispose(grads);
  return new Map(
    names.map((n, i) => {
      const bits = masks.get(n)!;
      // NaN (an overflow) counts as connected: never drop a weight on doubt.
      return [n, Uint8Array.from(bits, (b, j) => (b === 1 && host[i][j] === 0 ? 1 : 0))];
    }),
  );
}

/** Does any input→output path exist when every tensor with a nonzero count keeps all its weights? */
async function anyPath(model: Model, params: ParamMap, counts: Map<string, number>): Promise<boolean> {
  const full: Masks = new Map(model.prunable.map((p) => [p.name, new Uint8Array(p.size).fill(counts.get(p.name)! > 0 ? 1 : 0)]));
  return keptCount(await disconnectedWeights(model, params, full)) < keptCount(full);
}

export interface Reconnected {
  masks: Masks;
  /** Disconnected kept weights dropped, each replaced by the tensor's next-best candidate (over all passes). */
  dropped: number;
  /** Disconnected kept weights left (0 unless no refill could connect, e.g. with an empty layer). */
  left: number;
}

/**
 * Drops disconnected kept weights and refills each tensor's count with its next-best scored weights,
 * pass after pass until none is disconnected (a refill can itself be disconnected; removing a
 * disconnected weight never disconnects another, so the count never rises). Candidates are the weights
 * alive before the last round (`pool`, all weights after one shot), widened to every weight of a tensor
 * whose pool ran out; dropped weights never come back; a tensor that cannot refill keeps its weights.
 * Per-tensor counts, and so the layer allocation and the density, are unchanged. Nothing can reconnect
 * a network with an empty layer: its masks come back as they were.
 */
export async function reconnect(model: Model, params: ParamMap, masks: Masks, scores: Scores, pool?: Masks, maxPasses = 100): Promise<Reconnected> {
  const counts = keptCounts(masks);
  const banned: Masks = new Map(model.prunable.map((p) => [p.name, new Uint8Array(p.size)]));
  let dropped = 0;
  let dead = await disconnectedWeights(model, params, masks);
  if (keptCount(dead) > 0 && !(await anyPath(model, params, counts))) return { masks, dropped, left: keptCount(dead) };
  for (let pass = 0; pass < maxPasses && keptCount(dead) > 0; pass++) {
    const alive: Masks = new Map();
    const ban = new Map<string, Uint8Array>();
    let passDropped = 0;
    for (const p of model.prunable) {
      const next = Uint8Array.from(banned.get(p.name)!, (b, j) => b | dead.get(p.name)![j]);
      const from = pool?.get(p.name);
      let open = Uint8Array.from(next, (b, j) => (b === 0 && (from ? from[j] === 1 : true) ? 1 : 0));
      if (open.reduce((a, b) => a + b, 0) < counts.get(p.name)!) open = Uint8Array.from(next, (b) => 1 - b);
      const refills = open.reduce((a, b) => a + b, 0) >= counts.get(p.name)!;
      if (refills) passDropped += dead.get(p.name)!.reduce((a, b) => a + b, 0);
      ban.set(p.name, refills ? next : banned.get(p.name)!);
      alive.set(p.name, refills ? open : masks.get(p.name)!);
    }
    const next = selectMasks(model, scores, { density: 0, scope: 'global', counts, alive });
    dropped += passDropped;
    for (const [n, b] of ban) banned.set(n, b);
    masks = next;
    dead = await disconnectedWeights(model, params, next);
  }
  return { masks, dropped, left: keptCount(dead) };
}
