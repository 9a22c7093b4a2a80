import { z } from 'zod';
import type { PruneConfig } from '../prune/config.ts';
import { checkCriterionOptions, checkEntries, checkTargets } from '../spec/check.ts';
import { DENSE_SERIES, entrySlug } from '../spec/criterion-entry.ts';
import { planPruneJobs, type StemOf } from '../spec/plan.ts';
import { safeName } from '../spec/target.ts';
import { TargetSchema, TrainConfigSchema } from '../train/config.ts';
import { describeZodError } from '../util/config-errors.ts';
import { refuseRepeats, usage } from '../util/errors.ts';

export const SweepSchema = z
  .object({
    targets: z.array(TargetSchema).min(1),
    /** Criterion names; autos@<allocation> / grasp@erk pick a layer allocation; structured:crop prunes channels. */
    criteria: z.array(z.string()).min(1),
    densities: z.array(z.number()).min(1),
    seeds: z.array(z.number().int().nonnegative()).min(1).default([0]),
    samplesPerClass: z.number().int().positive().default(10),
    scope: z.enum(['global', 'layer']).default('global'),
    temperature: z.number().positive().default(200),
    /** Hyperparameters per criterion, e.g. { "prospr": { "steps": 5 } } (default: each criterion's paper values). */
    criterionOptions: z.record(z.string(), z.record(z.string(), z.number())).optional(),
    /** AutoS model directory (for autos entries) and survival table (for lottery). */
    autos: z.string().optional(),
    table: z.string().optional(),
    /** Trainer overrides on top of pipelines/train-<model>-<dataset>.json; omit to prune without training. */
    train: TrainConfigSchema.omit({ model: true, dataset: true, seed: true, width: true, dataDir: true, padTo: true, batchNorm: true }).partial().optional(),
  })
  .strict();

export type SweepConfig = z.infer<typeof SweepSchema>;

export interface SweepJob {
  index: number;
  /** Directory name under <out>/jobs. */
  name: string;
  config: PruneConfig;
}

/** Parses and checks the whole sweep; every problem is found before any job starts. */
export function planSweep(input: unknown, source: string, root?: string): { sweep: SweepConfig; jobs: SweepJob[] } {
  const r = SweepSchema.safeParse(input);
  if (!r.success) usage(describeZodError(r.error, source));
  const sweep = r.data;
  // A repeated entry would queue the same job twice (and with --jobs 2 fail on its own sibling's lock).
  for (const key of ['criteria', 'densities', 'seeds', 'targets'] as const) refuseRepeats(source, key, sweep[key]);
  checkEntries(sweep.criteria, source, 'criteria', { autos: sweep.autos, table: sweep.table });
  checkCriterionOptions(sweep.criterionOptions, sweep.criteria, source);
  sweep.densities.forEach((d, i) => {
    if (!(d > 0 && d <= 1)) usage(`${source}: densities[${i}] = ${d} is impossible; densities must be in (0, 1]`);
  });
  const levels = sweep.densities.map((density) => ({ density, sparsity: 1 - density }));
  checkTargets(sweep.targets, sweep.criteria, levels, sweep.samplesPerClass, source, (i) => `targets[${i}]`);
  const common = {
    samplesPerClass: sweep.samplesPerClass,
    scope: sweep.scope,
    temperature: sweep.temperature,
    criterionOptions: sweep.criterionOptions,
    autos: sweep.autos,
    table: sweep.table,
    train: sweep.train,
    source,
    root,
  };
  const planned = planPruneJobs(sweep.targets, sweep.criteria, levels, sweep.seeds, common, sweepStem);
  return { sweep, jobs: planned.map((j, index) => ({ index, name: j.name, config: j.config })) };
}

/** `<model>-<dataset>_<entry slug>_d<density>_seed<seed>` (no width: the layout of sweeps since their first version). */
const sweepStem: StemOf = ({ target, entry, level, seed }) =>
  `${target.model}-${safeName(target.dataset)}_${entry === DENSE_SERIES ? DENSE_SERIES : `${entrySlug(entry)}_d${level.density}`}_seed${seed}`;
