import type { PruneConfig } from '../prune/config.ts';
import { mergeConfig, parseTrainConfig, type TrainConfig, trainRecipe } from '../train/config.ts';
import type { CriterionEntry } from './criterion-entry.ts';
import type { Target } from './target.ts';

/** What every job of a plan shares besides its target, entry, density and seed. */
export interface JobCommon {
  samplesPerClass: number;
  scope: 'global' | 'layer';
  temperature: number;
  /** Hyperparameters per criterion name (prospr: steps, lr; ntk-sap: draws, …); each job gets its criterion's. */
  criterionOptions?: Record<string, Record<string, number>>;
  /** Fitted AutoS directory (autos entries) and survival table (lottery entries). */
  autos?: string;
  table?: string;
  /** Trainer overrides on top of the target's preset; undefined: prune without training. */
  train?: Record<string, unknown>;
  /** Names the config in one-line errors. */
  source: string;
  /** The run's or sweep's --out: inputs inside it are named relative to it in job names (relocatable). */
  root?: string;
}

/**
 * The trainer config of a target and seed: pipelines/train-<model>-<dataset>.json when it exists (else
 * the default recipe), the overrides on top, the target's own keys last.
 */
export function targetTrainConfig(t: Target, seed: number, overrides: Record<string, unknown>, source: string): TrainConfig {
  return parseTrainConfig(
    mergeConfig(trainRecipe(t.model, t.dataset).base, {
      ...overrides,
      model: t.model,
      width: t.width,
      batchNorm: t.batchNorm,
      dataset: t.dataset,
      dataDir: t.dataDir,
      padTo: t.padTo,
      seed,
    }),
    source,
  );
}

/**
 * The one builder of a prune job's config: `prune`, `sweep` and `run` all come here. Keys left undefined
 * stay out of the config (and so out of its hash); `extra` carries the flags only `prune` has.
 */
export function pruneJobConfig(
  t: Target & { inputShape?: [number, number, number]; numClasses?: number },
  entry: CriterionEntry,
  density: number,
  seed: number,
  common: Omit<JobCommon, 'train' | 'source' | 'root'> & { train?: TrainConfig },
  extra: Partial<PruneConfig> = {},
): PruneConfig {
  return {
    criterion: entry.criterion,
    allocation: entry.allocation,
    autos: needsAutos(entry) ? common.autos : undefined,
    table: entry.criterion === 'lottery' ? common.table : undefined,
    model: t.model,
    width: t.width,
    dataset: t.dataset,
    dataDir: t.dataDir,
    padTo: t.padTo,
    batchNorm: t.batchNorm,
    inputShape: t.inputShape,
    numClasses: t.numClasses,
    density,
    scope: common.scope,
    samplesPerClass: common.samplesPerClass,
    seed,
    temperature: common.temperature,
    criterionOptions: common.criterionOptions?.[entry.criterion],
    dumpScores: false,
    train: common.train,
    iterations: entry.iterations,
    reconnect: entry.reconnect,
    structured: entry.structured || undefined,
    ...extra,
  };
}

/** AutoS scores, and the learned allocation (any criterion's entry `<criterion>@learned`), read the fitted AutoS directory. */
export const needsAutos = (e: { criterion: string; allocation?: string }) => e.criterion === 'autos' || e.allocation === 'learned';

/** The dense baseline job for a budget: magnitude (data-free, instant) at density 1 keeps every weight. */
export function denseJobConfig(like: PruneConfig): PruneConfig {
  return {
    ...like,
    criterion: 'magnitude',
    allocation: 'global',
    autos: undefined,
    table: undefined,
    structured: undefined,
    iterations: undefined,
    reconnect: undefined,
    criterionOptions: undefined,
    density: 1,
  };
}
