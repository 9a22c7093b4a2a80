import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/types.ts';
import { usage } from '../util/errors.ts';

/** 0/1 keep-flags per prunable tensor (flat, in the tensor's own row-major layout). */
export type Masks = Map<string, Uint8Array>;

/** The same flags as float tensors shaped like their weights, for masking on the backend. */
export type MaskTensors = Record<string, tf.Tensor>;

/**
 * A mask file belongs to the model: one mask per prunable tensor, none missing, each of the tensor's
 * size and (when the file gives them) shape.
 */
export function checkMasksFit(masks: Masks, model: Model, source: string, shapes?: Map<string, number[]>): void {
  const byName = new Map(model.prunable.map((p) => [p.name, p]));
  for (const [name, bits] of masks) {
    const p = byName.get(name);
    if (!p) usage(`${source}: mask for '${name}', which is not a prunable tensor of ${model.config.name}; build the mask for this model`);
    if (bits.length !== p.size) {
      usage(
        `${source}: mask '${name}' has ${bits.length} entries but the tensor has ${p.size} (shape ${p.shape.join('×')}); build the mask for this model/width`,
      );
    }
    const shape = shapes?.get(name);
    if (shape && shape.join() !== p.shape.join()) {
      usage(`${source}: mask '${name}' has shape ${shape.join('×')} but the tensor is ${p.shape.join('×')}; build the mask for this model/width`);
    }
  }
  const missing = model.prunable.filter((p) => !masks.has(p.name)).map((p) => p.name);
  if (missing.length) {
    usage(
      `${source}: no mask for ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''} of ${model.config.name}; build the mask for this model`,
    );
  }
}

/** One tensor's flags as a 0/1 float tensor of its shape. */
export const bitsTensor = (bits: Uint8Array, shape: number[]): tf.Tensor => tf.tensor(Float32Array.from(bits), shape);

/** t ⊙ bits as a new tensor, or a copy of t when there is no mask. */
export function maskedTensor(t: tf.Tensor, bits: Uint8Array | undefined): tf.Tensor {
  return bits ? tf.tidy(() => tf.mul(t, bitsTensor(bits, t.shape))) : tf.clone(t);
}

export function maskTensors(masks: Masks, model: Model): MaskTensors {
  const out: MaskTensors = {};
  for (const p of model.prunable) {
    const bits = masks.get(p.name);
    if (bits) out[p.name] = bitsTensor(bits, p.shape);
  }
  return out;
}

/** Kept weights per tensor. */
export const keptCounts = (masks: Masks): Map<string, number> => new Map([...masks].map(([n, bits]) => [n, bits.reduce((a, b) => a + b, 0)]));

/** Kept weights over all tensors. */
export const keptCount = (masks: Masks): number => [...keptCounts(masks).values()].reduce((a, b) => a + b, 0);

export function maskDensity(masks: Masks, model: Model): number {
  let kept = 0;
  let total = 0;
  for (const p of model.prunable) {
    const bits = masks.get(p.name);
    total += p.size;
    kept += bits ? bits.reduce((a, b) => a + b, 0) : p.size;
  }
  return kept / total;
}
