import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeJsonAtomic } from '../../io/atomic.ts';
import { loadSafetensors, saveSafetensors } from '../../io/safetensors.ts';
import { readF32 } from '../../train/checkpoint.ts';
import { usage } from '../../util/errors.ts';
import { readJsonFile } from '../../util/json-text.ts';
import type { FeatureName } from './features.ts';
import type { ScorerSpec, ScorerWeights } from './scorer.ts';

export const AUTOS_FORMAT = 'pipeline-autos-v1';

/** autos.json: everything needed to compute the same inputs on a new network. */
export interface AutosMeta {
  format: string;
  features: FeatureName[];
  normalization: 'per-tensor-rms';
  scorer: ScorerSpec;
  /** How the training tables computed g and Hg; prune recomputes them the same way. */
  feature_bn_mode: 'train' | 'eval';
  temperature: number;
  samples_per_class: number | null;
  sources: string[];
}

export async function saveAutos(dir: string, meta: AutosMeta, weights: ScorerWeights): Promise<void> {
  const t = await readF32(
    weights.flatMap(({ w, b }, i): Array<[string, tf.Tensor]> => [
      [`layer${i}.w`, w],
      [`layer${i}.b`, b],
    ]),
  );
  saveSafetensors(path.join(dir, 'weights.safetensors'), t, { format: AUTOS_FORMAT });
  writeJsonAtomic(path.join(dir, 'autos.json'), meta);
}

export function loadAutos(dir: string, requested?: FeatureName[]): { meta: AutosMeta; weights: ScorerWeights } {
  const file = path.join(dir, 'autos.json');
  if (!fs.existsSync(file)) usage(`${dir} holds no AutoS model (autos.json missing): run 'pipeline fit-autos' first`);
  const meta = readJsonFile(file, "refit with 'pipeline fit-autos'") as AutosMeta;
  if (meta?.format !== AUTOS_FORMAT) usage(`${file} has format '${meta?.format}', expected ${AUTOS_FORMAT}; refit with this version`);
  const hidden = meta.scorer?.hidden;
  if (!Array.isArray(meta.features) || !Array.isArray(hidden) || !hidden.every((h) => Number.isInteger(h) && h > 0)) {
    usage(`${file} lacks its feature list or scorer shape; the model directory is corrupt: refit with 'pipeline fit-autos'`);
  }
  if (requested && requested.join(',') !== meta.features.join(',')) {
    usage(`AutoS model ${dir} was fitted on features ${meta.features.join(',')}, not ${requested.join(',')}; refit or drop --features`);
  }
  const { tensors } = loadSafetensors(path.join(dir, 'weights.safetensors'));
  const widths = [meta.features.length, ...hidden, 1];
  const weights = [...hidden, 1].map((_, i) => {
    const w = tensors[`layer${i}.w`];
    const b = tensors[`layer${i}.b`];
    if (!w || !b) usage(`${dir}/weights.safetensors lacks layer ${i}; the model directory is corrupt`);
    if (w.shape.join() !== `${widths[i]},${widths[i + 1]}` || b.shape.join() !== `${widths[i + 1]}`) {
      usage(
        `${dir}/weights.safetensors: layer ${i} has shape [${w.shape}] + [${b.shape}], expected [${widths[i]},${widths[i + 1]}] + [${widths[i + 1]}]; the model directory is corrupt`,
      );
    }
    if ([...w.data, ...b.data].some((v) => !Number.isFinite(Number(v))))
      usage(`${dir}/weights.safetensors: layer ${i} holds NaN or Inf; refit with 'pipeline fit-autos'`);
    return { w: tf.tensor2d(w.data as Float32Array, w.shape as [number, number]), b: tf.tensor1d(b.data as Float32Array) };
  });
  if (weights[0].w.shape[0] !== meta.features.length)
    usage(`${dir}: scorer input width ${weights[0].w.shape[0]} ≠ ${meta.features.length} features; the model directory is corrupt`);
  return { meta, weights };
}
