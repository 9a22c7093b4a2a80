import { z } from 'zod';
import { ALL_FEATURES } from '../scoring/autos/features.ts';
import { describeZodError, TrainConfigSchema } from '../train/config.ts';
import { usage } from '../util/errors.ts';
import type { PruneConfig } from './config.ts';

const positiveInt = z.number().int().positive();

/**
 * A prune job's config as a value (what `runPrune` takes from a library caller, a sweep's job.json or the
 * CLI): every key, its type and range, unknown keys refused, named by key. The CLI's flags and the
 * sweep/run planners build configs that pass; this is the check for configs built by hand. The rules
 * between keys (lottery needs a table, `when` needs `train`, …) are checked next by preparePrune.
 */
export const PruneConfigSchema = z
  .object({
    criterion: z.string().min(1),
    model: z.string().min(1),
    width: z.number().positive().optional(),
    dataset: z.string().min(1),
    dataDir: z.string().optional(),
    padTo: positiveInt.optional(),
    batchNorm: z.boolean().optional(),
    inputShape: z.tuple([positiveInt, positiveInt, positiveInt]).optional(),
    numClasses: positiveInt.optional(),
    density: z.number().gt(0).lte(1),
    scope: z.enum(['global', 'layer']),
    samplesPerClass: positiveInt,
    bnMode: z.enum(['train', 'eval']).optional(),
    seed: z.number().int().nonnegative(),
    iterations: positiveInt.optional(),
    reconnect: z.boolean().optional(),
    minLayerDensity: z.number().min(0).max(1).optional(),
    temperature: z.number().positive(),
    criterionOptions: z.record(z.number()).optional(),
    chunkSize: positiveInt.optional(),
    dumpScores: z.boolean(),
    table: z.string().optional(),
    autos: z.string().optional(),
    autosFeatures: z.array(z.enum(ALL_FEATURES as [string, ...string[]])).optional(),
    allocation: z.string().optional(),
    signalFloor: z.boolean().optional(),
    train: TrainConfigSchema.optional(),
    when: z
      .string()
      .regex(/^(init|early|epoch:\d+)$/, "must be 'init', 'early' or 'epoch:K'")
      .optional(),
    earlyMaxEpochs: positiveInt.optional(),
    structured: z.boolean().optional(),
  })
  .strict();

/** Checks a prune config (see PruneConfigSchema); one line naming `source` and the key. The config itself is left as given (its hash unchanged). */
export function checkPruneConfig(config: unknown, source: string): asserts config is PruneConfig {
  const r = PruneConfigSchema.safeParse(config);
  if (!r.success) usage(describeZodError(r.error, source));
}
