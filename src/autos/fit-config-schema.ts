import { z } from 'zod';
import { ALLOCATION_FEATURES } from '../scoring/autos/allocation-features.ts';
import { ALL_FEATURES } from '../scoring/autos/features.ts';
import { describeZodError } from '../util/config-errors.ts';
import { usage } from '../util/errors.ts';
import type { FitConfig } from './fit.ts';

const positiveInt = z.number().int().positive();

/** An AutoS fit's config as a value (from the CLI, a run's stage 2 or a library caller): every key, its type and range, unknown keys refused. */
export const FitConfigSchema = z
  .object({
    tables: z.array(z.string().min(1)).min(1),
    valTable: z.string().optional(),
    holdout: z.array(z.string()).optional(),
    features: z.array(z.enum(ALL_FEATURES as [string, ...string[]])).min(1),
    hidden: z.array(positiveInt),
    activation: z.enum(['relu', 'tanh']),
    loss: z.enum(['mse', 'rank']),
    target: z.enum(['survival', 'rank']).optional(),
    lr: z.number().positive(),
    batchSize: positiveInt,
    epochs: positiveInt,
    seed: z.number().int().nonnegative(),
    maxRowsPerTensor: positiveInt,
    control: z.boolean(),
    holdoutArch: z.array(z.string()).optional(),
    allocationFeatures: z.array(z.enum(ALLOCATION_FEATURES)).optional(),
    allocationLambda: z.number().nonnegative().optional(),
  })
  .strict();

/** Checks a fit config; one line naming `source` and the key. */
export function checkFitConfig(config: unknown, source: string): asserts config is FitConfig {
  const r = FitConfigSchema.safeParse(config);
  if (!r.success) usage(describeZodError(r.error, source));
}
