import fs from 'node:fs';
import { loadAllocation } from '../scoring/autos/allocation-model.ts';
import { loadAutos } from '../scoring/autos/model-file.ts';
import { loadDataset } from '../data/registry.ts';
import { sampleChunks, scoringSample } from '../data/scoring-sample.ts';
import type { Dataset } from '../data/types.ts';
import { createModel, type Model } from '../models/index.ts';
import { usage } from '../util/errors.ts';
import { checkAllocation, checkKeepsSome, checkSignalFloor } from '../scoring/allocation.ts';
import type { PruneConfig } from './config.ts';
import { CRITERIA, defaultAllocationOf, getCriterion } from '../scoring/criteria/index.ts';
import type { BnMode, ScoringBatches } from '../scoring/features.ts';
import { checkStructured } from './structured/stage.ts';

/** What a prune run works on, built and checked before any output exists. */
export interface Prepared {
  model: Model;
  dataset?: Dataset;
  data?: ScoringBatches;
  bnMode: BnMode;
}

/**
 * Builds what the run needs and checks what only files and the built model can tell (the table and the
 * fitted AutoS exist, every layer keeps a weight, …), before any output exists. The rules between the
 * config's keys were checked before, by checkPruneConfig.
 */
export function preparePrune(config: PruneConfig): Prepared {
  const criterion = getCriterion(config.criterion);
  const bnDefault = criterion.name === 'autos' ? loadAutos(config.autos!, config.autosFeatures).meta.feature_bn_mode : criterion.defaultBnMode;
  const allocation = config.allocation ?? defaultAllocationOf(config.criterion);
  checkAllocation(allocation, Object.keys(CRITERIA));
  if (!config.structured && allocation === 'learned') loadAllocation(config.autos!);
  if (config.table && !fs.existsSync(config.table)) usage(`survival table ${config.table} not found: run 'pipeline irp' first`);
  const dataset = config.dataset === 'none' ? undefined : loadDataset(config.dataset, { dataDir: config.dataDir, padTo: config.padTo });
  const model = createModel(config.model, {
    width: config.width,
    batchNorm: config.batchNorm,
    inputShape: dataset?.train.shape ?? config.inputShape,
    numClasses: dataset?.numClasses ?? config.numClasses,
  });
  if (!config.structured) checkKeepsSome(model, config.density);
  if (!config.structured && (config.signalFloor || allocation === 'learned')) checkSignalFloor(model, config.density, `--allocation ${allocation}`);
  if (config.structured) checkStructured(model, config.density);
  let data: ScoringBatches | undefined;
  if (dataset) {
    const sample = scoringSample(dataset, config.samplesPerClass);
    const chunk = config.chunkSize ?? sample.n;
    data = { n: sample.n, chunks: () => sampleChunks(dataset, sample, chunk) };
  }
  return { model, dataset, data, bnMode: config.bnMode ?? bnDefault };
}
