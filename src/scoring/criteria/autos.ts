import { featureMatrix, type LayerDescriptor, needsContext, needsFlow, needsHg, networkContext } from '../autos/features.ts';
import { loadAutos } from '../autos/model-file.ts';
import { scoreRows } from '../autos/scorer.ts';
import * as tf from '@tensorflow/tfjs';
import { usage } from '../../util/errors.ts';
import { computeFeatures } from '../features.ts';
import { synflowScores } from './synflow.ts';
import type { Criterion } from './types.ts';

/**
 * AutoS: the fitted scorer applied to the same per-tensor-normalized features at θ₀ (g and Hg with the
 * BN mode and temperature its training tables used), one prediction per weight.
 */
export const autos: Criterion = {
  name: 'autos',
  description: 'learned survival predictor (pipeline fit-autos) on θ₀, g, Hg and layer descriptors',
  needsData: true,
  defaultBnMode: 'eval',
  // IRP's labels come from iterative pruning, and one-shot scores cannot see the paths a pruning step
  // cuts: re-scoring the masked net over 10 geometric rounds (each tensor shrinking toward its
  // allocated count) scored higher than one shot over both conv tuning targets (docs/results.md, "Plain and MLP sources").
  defaultIterations: 10,
  iterationsInJobs: true,
  // A scorer fitted on other networks does not know how to spread the budget over this one's layers; of
  // the allocations measured (learned, snip, synflow, erk, global) synflow's counts did best on unseen
  // conv targets (docs/results.md, "Plain and MLP sources").
  defaultAllocation: 'synflow',
  score: async ({ model, params, data, masks, autos: dir }) => {
    if (!dir) usage("criterion 'autos' needs --autos <model dir> from 'pipeline fit-autos'");
    const { meta, weights } = loadAutos(dir);
    const withHg = needsHg(meta.features);
    const features = await computeFeatures(model, params, data!, { bnMode: meta.feature_bn_mode, temperature: meta.temperature, withHg, masks });
    const flow = needsFlow(meta.features) ? await synflowScores(model, params, masks) : undefined;
    const cols = new Map(
      model.prunable.map((p) => [
        p.name,
        { theta: features.theta.get(p.name)!, grad: features.grad.get(p.name)!, hg: features.hg?.get(p.name), flow: flow?.get(p.name) },
      ]),
    );
    const context = needsContext(meta.features)
      ? networkContext(
          [...cols].map(([name, c]) => ({ name, cols: c })),
          meta.features,
        )
      : undefined;
    const scores = new Map<string, Float32Array>();
    for (const p of model.prunable) {
      const layer: LayerDescriptor = {
        name: p.name,
        kind: p.kind,
        shape: p.shape,
        fan_in: p.fanIn,
        fan_out: p.fanOut,
        kernel_size: p.kernelSize,
        depth: p.depth,
      };
      const x = featureMatrix(cols.get(p.name)!, layer, meta.features, context);
      scores.set(p.name, await scoreRows(meta.scorer, weights, x));
    }
    tf.dispose(weights.flatMap(({ w, b }) => [w, b]));
    return { scores, features: features.hg ? features : undefined };
  },
};
