import type { PruneConfig } from '../prune/config.ts';
import { configHash } from '../io/rundir.ts';
import { defaultTrainPreset, mergeConfig, parseTrainConfig, readPreset, type TrainConfig } from '../train/config.ts';
import { type CriterionEntry, DENSE_SERIES, parseEntry } from './criterion-entry.ts';
import type { Target } from './target.ts';

/** What every job of a plan shares besides its target, entry, density and seed. */
export interface JobCommon {
  samplesPerClass: number;
  scope: 'global' | 'layer';
  temperature: number;
  /** Fitted AutoS directory (autos entries) and survival table (lottery entries). */
  autos?: string;
  table?: string;
  /** Trainer overrides on top of the target's preset; undefined: prune without training. */
  train?: Record<string, unknown>;
  /** Names the config in one-line errors. */
  source: string;
}

/**
 * The trainer config of a target and seed: pipelines/train-<model>-<dataset>.json when it exists, the
 * overrides on top, the target's own keys last.
 */
export function targetTrainConfig(t: Target, seed: number, overrides: Record<string, unknown>, source: string): TrainConfig {
  const preset = defaultTrainPreset(t.model, t.dataset);
  return parseTrainConfig(
    mergeConfig(preset ? readPreset(preset) : {}, { ...overrides, model: t.model, width: t.width, batchNorm: t.batchNorm, dataset: t.dataset, dataDir: t.dataDir, padTo: t.padTo, seed }),
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
  common: Omit<JobCommon, 'train' | 'source'> & { train?: TrainConfig },
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
  return { ...like, criterion: 'magnitude', allocation: 'global', autos: undefined, table: undefined, structured: undefined, iterations: undefined, reconnect: undefined, density: 1 };
}

/** One pruning level as the user wrote it (a sweep lists densities, a run sparsities). */
export interface Level {
  density: number;
  sparsity: number;
}

export interface PlannedJob {
  target: Target;
  /** The entry as written, or DENSE_SERIES for the baseline. */
  entry: string;
  level: Level;
  seed: number;
  /** Directory name: the layout's stem, then the config hash. */
  name: string;
  config: PruneConfig;
}

/** A layout's directory stem of a job (without the hash). */
export type StemOf = (j: Omit<PlannedJob, 'name' | 'config'>) => string;

/** `<stem>_<first 8 hex digits of the config hash>`: the same config always lands in the same directory. */
export const jobName = (stem: string, config: PruneConfig) => `${stem}_${configHash(config).slice(0, 8)}`;

/**
 * The one planner of `sweep` and of `run`'s stage 3: per target, its dense baseline per seed (unless a
 * level of density 1 already is it), then entries × levels × seeds, every job built by pruneJobConfig.
 */
export function planPruneJobs(targets: readonly Target[], entries: readonly string[], levels: readonly Level[], seeds: readonly number[], common: JobCommon, stemOf: StemOf): PlannedJob[] {
  return targets.flatMap((target) => {
    const trainOf = (seed: number) => (common.train ? targetTrainConfig(target, seed, common.train, common.source) : undefined);
    const pruned = entries.flatMap((entry) =>
      levels.flatMap((level) =>
        seeds.map((seed) => {
          const config = pruneJobConfig(target, parseEntry(entry), level.density, seed, { ...common, train: trainOf(seed) });
          const key = { target, entry, level, seed };
          return { ...key, name: jobName(stemOf(key), config), config };
        }),
      ),
    );
    if (levels.some((l) => l.density === 1)) return pruned;
    const dense = seeds.map((seed) => {
      const config = denseJobConfig(pruneJobConfig(target, parseEntry('magnitude'), 1, seed, { ...common, train: trainOf(seed) }));
      const key = { target, entry: DENSE_SERIES, level: { density: 1, sparsity: 0 }, seed };
      return { ...key, name: jobName(stemOf(key), config), config };
    });
    return [...dense, ...pruned];
  });
}
