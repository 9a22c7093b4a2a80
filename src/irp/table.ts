import { Field, Float32, makeVector, Uint8 } from 'apache-arrow';
import type { Model } from '../models/types.ts';
import type { Features } from '../scoring/features.ts';
import { writePerWeightTable } from '../scoring/score-table.ts';

/**
 * The survival table (Arrow IPC file, uncompressed, standard types), one record batch per prunable
 * tensor, rows in the tensor's row-major order:
 *   layer (dictionary<int32, utf8>), index (int32), theta, grad, hg (float32, at θ₀ of the dense net),
 *   rounds_survived (uint8, 0..E), score (float32, rounds_survived / E),
 *   final_score (float32, the criterion's keep-score in the last round; lottery ties break on it).
 * Schema metadata: model, width, dataset, criterion, schedule, rounds, densities (per round), seed,
 * backend, package_version, feature_bn_mode, temperature, samples_per_class, rewind, and `layers`: a
 * JSON array of { name, kind, shape, fan_in, fan_out, kernel_size, depth } in forward order.
 */
export function writeSurvivalTable(
  path: string,
  model: Model,
  features: Features,
  survived: Map<string, Uint8Array>,
  finalScores: Map<string, Float32Array | Float64Array>,
  rounds: number,
  metadata: Record<string, unknown>,
): void {
  const layers = model.prunable.map((p) => ({
    name: p.name,
    kind: p.kind,
    shape: p.shape,
    fan_in: p.fanIn,
    fan_out: p.fanOut,
    kernel_size: p.kernelSize,
    depth: p.depth,
  }));
  writePerWeightTable(
    path,
    model,
    features,
    {
      fields: [new Field('rounds_survived', new Uint8(), false), new Field('score', new Float32(), false), new Field('final_score', new Float32(), false)],
      columns: (p) => {
        const c = survived.get(p.name)!;
        return {
          rounds_survived: makeVector(c),
          score: makeVector(Float32Array.from(c, (v) => v / rounds)),
          final_score: makeVector(Float32Array.from(finalScores.get(p.name)!)),
        };
      },
    },
    { ...metadata, rounds, layers },
  );
}
