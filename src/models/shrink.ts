import * as tf from '@tensorflow/tfjs';
import type { Model, ParamMap, TensorSpec } from './types.ts';
import { createModel } from './zoo.ts';

/** Kept channel indices (ascending) per channel group; groups not listed keep every channel. */
export type ChannelKeep = Map<string, number[]>;

function checkKeep(model: Model, keep: ChannelKeep): void {
  for (const [group, idx] of keep) {
    const g = model.channelGroups.find((c) => c.name === group);
    if (!g) throw new Error(`shrink: ${model.config.name} has no channel group ${group}`);
    if (idx.length === 0) throw new Error(`shrink: group ${group} would keep no channel`);
    idx.forEach((v, i) => {
      if (!Number.isInteger(v) || v < 0 || v >= g.size || (i > 0 && v <= idx[i - 1]))
        throw new Error(`shrink: group ${group} indices must be ascending in [0, ${g.size})`);
    });
  }
}

/** Indices along a tensor's input axis: a flattened [H, W, C] input repeats each channel at every position. */
function inputIndices(kept: number[], axisSize: number, repeat = 1): number[] {
  const channels = axisSize / repeat;
  const out: number[] = [];
  for (let s = 0; s < repeat; s++) for (const c of kept) out.push(s * channels + c);
  return out;
}

function slice(spec: TensorSpec, t: tf.Tensor, keep: ChannelKeep): tf.Tensor {
  const axes = spec.channels;
  let out = t;
  const outKeep = axes?.out ? keep.get(axes.out) : undefined;
  if (outKeep) out = tf.gather(out, outKeep, spec.shape.length - 1);
  const inKeep = axes?.in ? keep.get(axes.in) : undefined;
  if (inKeep) {
    const axis = spec.kind === 'conv' ? 2 : 0;
    const sliced = tf.gather(out, inputIndices(inKeep, spec.shape[axis], axes!.inRepeat), axis);
    if (out !== t) out.dispose();
    out = sliced;
  }
  return out === t ? tf.clone(t) : out;
}

/**
 * Physically removes channels: the smaller zoo model (same name, `config.channels` set) and its
 * parameters, sliced from `params` — conv/dense outputs, biases and BN of each group, and the inputs of
 * the layers each group feeds. With the removed channels gated to zero, both compute the same function.
 */
export function shrinkModel(model: Model, params: ParamMap, keep: ChannelKeep): { model: Model; params: ParamMap } {
  checkKeep(model, keep);
  const channels = { ...model.config.channels };
  for (const [group, idx] of keep) channels[group] = idx.length;
  const { name, width, inputShape, numClasses, batchNorm } = model.config;
  const small = createModel(name, { width, inputShape, numClasses, batchNorm, channels });
  const out: ParamMap = {};
  small.specs.forEach((spec, i) => {
    const old = model.specs[i];
    if (old?.name !== spec.name) throw new Error(`shrink: ${name} changed topology at ${spec.name}`);
    const t = slice(old, params[old.name], keep);
    if (t.shape.join() !== spec.shape.join()) throw new Error(`shrink: ${spec.name} sliced to [${t.shape}] but the shrunk model needs [${spec.shape}]`);
    out[spec.name] = t;
  });
  return { model: small, params: out };
}

/** Gates for Model.forward: 1 for kept, 0 for removed channels. */
export function channelGates(keepBits: Map<string, Uint8Array>): Record<string, tf.Tensor1D> {
  return Object.fromEntries([...keepBits].map(([g, bits]) => [g, tf.tensor1d(Float32Array.from(bits))]));
}

/** Multiply-add FLOPs (2 per MAC) of the conv and dense layers for one example. */
export function flopsPerExample(model: Model, params: ParamMap): number {
  const flops = { total: 0 };
  tf.tidy(() => {
    model.forward(params, tf.zeros([1, ...model.config.inputShape]) as tf.Tensor4D, false, { flops });
  });
  return flops.total;
}
