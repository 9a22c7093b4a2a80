import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { loadSafetensors, saveSafetensors, type SafeTensor } from '../io/safetensors.ts';
import type { Model, ParamMap } from '../models/types.ts';
import type { Masks } from '../masks/masks.ts';
import { UsageError, usage } from '../util/errors.ts';
import type { OptimizerState } from './optimizer.ts';

/**
 * One safetensors file holds everything a run needs to continue:
 *   <name>                    every model tensor (weights, biases, BN γ/β and running stats), F32,
 *                             tfjs layouts: conv [kh,kw,cin,cout] (PyTorch: permute(3,2,0,1)),
 *                             dense [in,out] (PyTorch: transpose)
 *   optimizer.<slot>.<name>   optimizer state (momentum, or Adam's m and v)
 *   mask.<name>               0/1 keep-flags (U8) of masked tensors
 * Metadata: format, epoch (completed), step (global), optimizer_t, config_hash.
 */
export const CHECKPOINT_FORMAT = 'pipeline-checkpoint-v1';

export interface CheckpointState {
  params: ParamMap;
  optimizer: OptimizerState;
  masks?: Masks;
  epoch: number;
  step: number;
  configHash: string;
}

/** Host copies of named F32 tensors, all reads issued at once. */
export async function readF32(named: Array<[string, tf.Tensor]>): Promise<Map<string, SafeTensor>> {
  const data = await Promise.all(named.map(([, t]) => t.data() as Promise<Float32Array>));
  return new Map(named.map(([name, t], i) => [name, { dtype: 'F32', shape: t.shape, data: data[i] }]));
}

export async function saveCheckpoint(path: string, state: CheckpointState): Promise<void> {
  const named: Array<[string, tf.Tensor]> = Object.entries(state.params);
  for (const [slot, byName] of Object.entries(state.optimizer.slots)) {
    for (const [name, t] of Object.entries(byName)) named.push([`optimizer.${slot}.${name}`, t]);
  }
  const tensors = await readF32(named);
  for (const [name, bits] of state.masks ?? []) tensors.set(`mask.${name}`, { dtype: 'U8', shape: [bits.length], data: bits });
  saveSafetensors(path, tensors, {
    format: CHECKPOINT_FORMAT,
    epoch: String(state.epoch),
    step: String(state.step),
    optimizer_t: String(state.optimizer.t),
    config_hash: state.configHash,
  });
}

export function loadCheckpoint(path: string, model: Model, configHash?: string): CheckpointState {
  if (!fs.existsSync(path)) usage(`checkpoint ${path} not found: run without --resume to start fresh`);
  let read: ReturnType<typeof loadSafetensors>;
  try {
    read = loadSafetensors(path);
  } catch (err) {
    // A checkpoint cut short by a full disk or a killed copy: the way out is to start the run over.
    if (err instanceof UsageError)
      usage(`${err.message.replace(/ \(re-create or re-download the file\)$/, '')}; rerun with --force to discard it and start over`);
    throw err;
  }
  const { tensors, metadata } = read;
  if (metadata.format !== CHECKPOINT_FORMAT)
    usage(`${path} is not a pipeline checkpoint (format '${metadata.format ?? 'none'}'); rerun with --force to replace it`);
  if (configHash && metadata.config_hash !== configHash) {
    usage(
      `${path} was written by a different configuration (hash ${metadata.config_hash}, now ${configHash}); resume with the same settings or use a new --out`,
    );
  }
  const params = modelTensors(path, tensors, model);
  const optimizer: OptimizerState = { slots: {}, t: Number(metadata.optimizer_t ?? 0) };
  const masks: Masks = new Map();
  for (const [key, t] of Object.entries(tensors)) {
    if (key.startsWith('optimizer.')) {
      const [, slot, ...rest] = key.split('.');
      (optimizer.slots[slot] ??= {})[rest.join('.')] = tf.tensor(t.data as Float32Array, t.shape);
    } else if (key.startsWith('mask.')) {
      masks.set(key.slice(5), t.data as Uint8Array);
    }
  }
  return {
    params,
    optimizer,
    masks: masks.size ? masks : undefined,
    epoch: Number(metadata.epoch),
    step: Number(metadata.step),
    configHash: metadata.config_hash,
  };
}

/** Just the model tensors (F32, tfjs layouts), e.g. a rewind point. */
export async function saveParams(path: string, params: ParamMap): Promise<void> {
  saveSafetensors(path, await readF32(Object.entries(params)), { format: 'pipeline-params-v1' });
}

export function loadParams(path: string, model: Model): ParamMap {
  return modelTensors(path, loadSafetensors(path).tensors, model);
}

/** Every tensor of `model` from a decoded file, shape-checked. */
function modelTensors(path: string, tensors: Record<string, SafeTensor>, model: Model): ParamMap {
  const params: ParamMap = {};
  for (const spec of model.specs) {
    const t = tensors[spec.name];
    if (!t || t.shape.join() !== spec.shape.join())
      usage(`${path}: tensor '${spec.name}' is missing or has the wrong shape for ${model.config.name}; rerun with --force to start over`);
    if ((t.data as Float32Array).some((v) => !Number.isFinite(v))) usage(`${path}: tensor '${spec.name}' holds NaN or Inf; rerun with --force to start over`);
    params[spec.name] = tf.tensor(t.data as Float32Array, spec.shape);
  }
  return params;
}
