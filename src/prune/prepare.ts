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

/** Checks everything about the request before any output exists. */
export function preparePrune(config: PruneConfig): Prepared {
  const criterion = getCriterion(config.criterion);
  if (!(config.density > 0 && config.density <= 1)) usage(`density ${config.density} is outside (0, 1]: pass --density in (0, 1] or --sparsity in [0, 1)`);
  if (config.minLayerDensity !== undefined && !(config.minLayerDensity >= 0 && config.minLayerDensity <= 1)) {
    usage(`--min-layer-density ${config.minLayerDensity} is outside [0, 1]`);
  }
  if (criterion.name === 'lottery' && !config.table) usage("criterion 'lottery' needs --table <survival.arrow> from 'pipeline irp'");
  let bnDefault = criterion.defaultBnMode;
  if (criterion.name === 'autos') {
    if (!config.autos) usage("criterion 'autos' needs --autos <model dir> from 'pipeline fit-autos'");
    bnDefault = loadAutos(config.autos, config.autosFeatures).meta.feature_bn_mode;
  }
  const when = config.when ?? 'init';
  if (criterion.name === 'lottery' && when !== 'init')
    usage(`criterion 'lottery' trains the ticket from its own θ₀; --when ${when} does not apply to it: drop --when`);
  if (!/^(init|early|epoch:\d+)$/.test(when)) usage(`--when must be init, early or epoch:K, got '${when}'`);
  if (when !== 'init') {
    if (!config.train) usage(`--when ${when} trains before pruning: add --train`);
    const k = when === 'early' ? (config.earlyMaxEpochs ?? config.train.epochs - 1) : Number(when.slice(6));
    if (!(k >= 1 && k < config.train.epochs))
      usage(`--when ${when} must prune after 1 to ${config.train.epochs - 1} dense epochs of the ${config.train.epochs} trained; adjust --epochs or --when`);
  }
  const allocation = config.allocation ?? defaultAllocationOf(config.criterion);
  checkAllocation(allocation, Object.keys(CRITERIA));
  if (!config.structured && allocation === 'survival' && criterion.name !== 'autos')
    usage("--allocation survival needs --criterion autos (it allocates by AutoS's predicted survival)");
  if (!config.structured && allocation === 'learned') {
    if (!config.autos) usage("--allocation learned needs --autos <model dir> from 'pipeline fit-autos' (its allocation.json)");
    loadAllocation(config.autos);
  }

  if (config.table && !fs.existsSync(config.table)) usage(`survival table ${config.table} not found: run 'pipeline irp' first`);
  let dataset: Dataset | undefined;
  if (config.dataset === 'none') {
    if (criterion.needsData) usage(`criterion '${criterion.name}' needs scoring data but --dataset none was given: pass a dataset (e.g. --dataset mnist)`);
    if (config.dumpScores)
      usage(
        '--dump-scores writes g and Hg, which need scoring data, but --dataset none was given: pass a dataset (e.g. --dataset mnist) or drop --dump-scores',
      );
  } else {
    dataset = loadDataset(config.dataset, { dataDir: config.dataDir, padTo: config.padTo });
  }
  const model = createModel(config.model, {
    width: config.width,
    batchNorm: config.batchNorm,
    inputShape: dataset?.train.shape ?? config.inputShape,
    numClasses: dataset?.numClasses ?? config.numClasses,
  });
  if (!config.structured) checkKeepsSome(model, config.density);
  if (config.signalFloor && (allocation === 'global' || config.structured))
    usage('--signal-floor applies to a layer allocation: add --allocation (layer, erk, learned, survival or a criterion)');
  if (!config.structured && (config.signalFloor || allocation === 'learned')) checkSignalFloor(model, config.density, `--allocation ${allocation}`);
  if (config.structured) {
    checkStructured(model, criterion.name, config.density, config);
    if (config.dumpScores) usage('--dump-scores writes per-weight scores; with --structured the channel choice is in channels.json: drop --dump-scores');
  }
  let data: ScoringBatches | undefined;
  if (dataset) {
    const sample = scoringSample(dataset, config.samplesPerClass);
    const chunk = config.chunkSize ?? sample.n;
    data = { n: sample.n, chunks: () => sampleChunks(dataset, sample, chunk) };
  }
  return { model, dataset, data, bnMode: config.bnMode ?? bnDefault };
}
