import { configHash, relocatable } from '../io/rundir.ts';
import type { PruneConfig } from '../prune/config.ts';
import { checkPruneConfig } from '../prune/config-schema.ts';
import { DENSE_SERIES, parseEntry } from './criterion-entry.ts';
import { inEntryTerms } from './flag-keys.ts';
import { denseJobConfig, type JobCommon, pruneJobConfig, targetTrainConfig } from './prune-job.ts';
import type { Target } from './target.ts';

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

/**
 * `<stem>_<first 8 hex digits of the config hash>`: the same config always lands in the same directory;
 * inputs inside `root` (the run's --out) are hashed by their path inside it (relocatable).
 */
export const jobName = (stem: string, config: PruneConfig, root?: string) => `${stem}_${configHash(relocatable(config, root)).slice(0, 8)}`;

/**
 * The one planner of `sweep` and of `run`'s stage 3: per target, its dense baseline per seed (unless a
 * level of density 1 already is it), then entries × levels × seeds, every job built by pruneJobConfig
 * and checked by the schema its run will check it by (so a plan holds no job that would be refused).
 */
export function planPruneJobs(
  targets: readonly Target[],
  entries: readonly string[],
  levels: readonly Level[],
  seeds: readonly number[],
  common: JobCommon,
  stemOf: StemOf,
): PlannedJob[] {
  return targets.flatMap((target) => {
    const trainOf = (seed: number) => (common.train ? targetTrainConfig(target, seed, common.train, common.source) : undefined);
    const pruned = entries.flatMap((entry) =>
      levels.flatMap((level) =>
        seeds.map((seed) => {
          const config = pruneJobConfig(target, parseEntry(entry), level.density, seed, { ...common, train: trainOf(seed) });
          checkPruneConfig(config, `${common.source}: '${entry}'`, inEntryTerms);
          const key = { target, entry, level, seed };
          return { ...key, name: jobName(stemOf(key), config, common.root), config };
        }),
      ),
    );
    if (levels.some((l) => l.density === 1)) return pruned;
    const dense = seeds.map((seed) => {
      const config = denseJobConfig(pruneJobConfig(target, parseEntry('magnitude'), 1, seed, { ...common, train: trainOf(seed) }));
      const key = { target, entry: DENSE_SERIES, level: { density: 1, sparsity: 0 }, seed };
      return { ...key, name: jobName(stemOf(key), config, common.root), config };
    });
    return [...dense, ...pruned];
  });
}
