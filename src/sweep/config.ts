import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { loadDataset } from '../data/registry.ts';
import { createModel } from '../models/index.ts';
import { checkAllocation } from '../prune/allocation.ts';
import { CRITERIA, getCriterion } from '../prune/criteria/index.ts';
import { checkStructured } from '../prune/structured/stage.ts';
import type { PruneConfig } from '../prune/config.ts';
import { DENSE_SERIES, denseJobConfig } from '../report/results.ts';
import { entrySlug, splitCriterion } from '../run/main-job.ts';
import { defaultTrainPreset, describeZodError, mergeConfig, parseTrainConfig, readPreset, TargetSchema, TrainConfigSchema } from '../train/config.ts';
import { refuseRepeats, usage } from '../util/errors.ts';
import { jobName } from './jobs.ts';


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
export function planSweep(input: unknown, source: string): { sweep: SweepConfig; jobs: SweepJob[] } {
  const r = SweepSchema.safeParse(input);
  if (!r.success) usage(describeZodError(r.error, source));
  const sweep = r.data;
  // A repeated entry would queue the same job twice (and with --jobs 2 fail on its own sibling's lock).
  for (const key of ['criteria', 'densities', 'seeds', 'targets'] as const) refuseRepeats(source, key, sweep[key]);
  sweep.criteria.forEach((entry, i) => {
    const { criterion, allocation } = splitCriterion(entry);
    if (!CRITERIA[criterion]) usage(`${source}: criteria[${i}] '${entry}': unknown criterion '${criterion}'; choose one of ${Object.keys(CRITERIA).join(', ')}`);
    try {
      checkAllocation(allocation, Object.keys(CRITERIA));
    } catch {
      usage(`${source}: criteria[${i}] '${entry}': unknown allocation '${allocation}'; use global, layer, erk, learned, survival or a criterion name`);
    }
    if (criterion === 'autos' && !(sweep.autos && fs.existsSync(path.join(sweep.autos, 'autos.json')))) usage(`${source}: criteria[${i}] '${entry}' needs "autos": a fitted model directory`);
    if (criterion === 'lottery' && !(sweep.table && fs.existsSync(sweep.table))) usage(`${source}: criteria[${i}] '${entry}' needs "table": an existing survival.arrow`);
    getCriterion(criterion);
  });
  sweep.densities.forEach((d, i) => {
    if (!(d > 0 && d <= 1)) usage(`${source}: densities[${i}] = ${d} is impossible; densities must be in (0, 1]`);
  });
  const jobs: SweepJob[] = [];
  sweep.targets.forEach((t, ti) => {
    let dataset;
    try {
      dataset = loadDataset(t.dataset, { dataDir: t.dataDir, padTo: t.padTo });
    } catch (err) {
      usage(`${source}: targets[${ti}]: ${(err as Error).message}`);
    }
    const model = createModel(t.model, { width: t.width, batchNorm: t.batchNorm, inputShape: dataset.train.shape, numClasses: dataset.numClasses });
    const preset = defaultTrainPreset(t.model, t.dataset);
    for (const entry of sweep.criteria) {
      const { criterion, allocation, structured, iterations, reconnect } = splitCriterion(entry);
      for (const density of sweep.densities) {
        if (structured) {
          try {
            checkStructured(model, criterion, density, { allocation, scope: sweep.scope });
          } catch (err) {
            usage(`${source}: '${entry}' on targets[${ti}] at density ${density}: ${(err as Error).message}`);
          }
        }
        for (const seed of sweep.seeds) {
          const train = sweep.train
            ? parseTrainConfig(mergeConfig(preset ? readPreset(preset) : {}, { ...sweep.train, model: t.model, width: t.width, batchNorm: t.batchNorm, dataset: t.dataset, dataDir: t.dataDir, padTo: t.padTo, seed }), source)
            : undefined;
          const config: PruneConfig = {
            criterion,
            allocation,
            autos: criterion === 'autos' ? sweep.autos : undefined,
            table: criterion === 'lottery' ? sweep.table : undefined,
            model: t.model,
            width: t.width,
            dataset: t.dataset,
            dataDir: t.dataDir,
            padTo: t.padTo,
            batchNorm: t.batchNorm,
            density,
            scope: sweep.scope,
            samplesPerClass: sweep.samplesPerClass,
            seed,
            temperature: sweep.temperature,
            dumpScores: false,
            train,
            iterations,
            reconnect,
          };
          if (structured) config.structured = true;
          const name = jobName(`${t.model}-${t.dataset.replace(/[^a-z0-9-]/gi, '_')}_${entrySlug(entry)}_d${density}_seed${seed}`, config);
          jobs.push({ index: jobs.length, name, config });
        }
      }
    }
  });
  // The dense baseline of every target and seed, same budget (unless a density of 1 already is it).
  if (!sweep.densities.includes(1)) {
    const firsts = jobs.filter((j, i) => jobs.findIndex((k) => k.config.model === j.config.model && k.config.width === j.config.width && k.config.dataset === j.config.dataset && k.config.seed === j.config.seed) === i);
    for (const j of firsts) {
      const config = denseJobConfig(j.config);
      const stem = `${config.model}-${config.dataset.replace(/[^a-z0-9-]/gi, '_')}_${DENSE_SERIES}_seed${config.seed}`;
      jobs.push({ index: jobs.length, name: jobName(stem, config), config });
    }
  }
  return { sweep, jobs };
}

export function parseShard(spec: string | undefined): { index: number; count: number } {
  if (spec === undefined) return { index: 0, count: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(spec);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) usage(`--shard must be i/n with 0 ≤ i < n (e.g. 0/4), got '${spec}'`);
  return { index, count };
}
