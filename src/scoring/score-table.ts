import { Field, Float32, Int32, makeVector, Schema, Uint8, type Vector } from 'apache-arrow';
import { openArrowFileWriter, recordBatch, StringDictionary, toMetadata } from '../io/arrow.ts';
import type { Model, PrunableTensor } from '../models/types.ts';
import type { Features } from './features.ts';
import type { Masks } from '../masks/masks.ts';
import type { Scores } from './select.ts';

/**
 * A per-weight Arrow IPC file (uncompressed), one record batch per prunable tensor, rows in the
 * tensor's row-major order, starting with layer (dictionary utf8), index (int32, flat index in the
 * tensor), theta, grad, hg (float32), followed by `extra` columns.
 */
export function writePerWeightTable(
  path: string,
  model: Model,
  features: Features,
  extra: { fields: Field[]; columns: (p: PrunableTensor) => Record<string, Vector> },
  metadata: Record<string, unknown>,
): void {
  const layers = new StringDictionary(model.prunable.map((p) => p.name));
  const schema = new Schema(
    [
      layers.field('layer'),
      new Field('index', new Int32(), false),
      new Field('theta', new Float32(), false),
      new Field('grad', new Float32(), false),
      new Field('hg', new Float32(), false),
      ...extra.fields,
    ],
    toMetadata(metadata),
  );
  const writer = openArrowFileWriter(path, schema);
  try {
    model.prunable.forEach((p, code) => {
      writer.write(
        recordBatch(schema, {
          layer: layers.fromIndices(new Int32Array(p.size).fill(code)),
          index: makeVector(Int32Array.from({ length: p.size }, (_, i) => i)),
          theta: makeVector(features.theta.get(p.name)!),
          grad: makeVector(features.grad.get(p.name)!),
          hg: makeVector(features.hg!.get(p.name)!),
          ...extra.columns(p),
        }),
      );
    });
    writer.close();
  } catch (err) {
    writer.abort();
    throw err;
  }
}

/** `--dump-scores`: the per-weight columns plus score (float32) and kept (uint8 0/1). */
export function writeScoreTable(path: string, model: Model, features: Features, scores: Scores, masks: Masks, metadata: Record<string, unknown>): void {
  writePerWeightTable(
    path,
    model,
    features,
    {
      fields: [new Field('score', new Float32(), false), new Field('kept', new Uint8(), false)],
      columns: (p) => ({ score: makeVector(Float32Array.from(scores.get(p.name)!)), kept: makeVector(masks.get(p.name)!) }),
    },
    metadata,
  );
}
