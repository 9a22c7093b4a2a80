import { z } from 'zod';
import { ALLOCATION_FEATURES } from '../scoring/autos/allocation-features.ts';
import { ALL_FEATURES } from '../scoring/autos/features.ts';
import { describeZodError, type KeyNames } from '../util/config-errors.ts';
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
  .strict()
  .superRefine((c, ctx) => {
    // Before any table is read: the rule between keys, in {key} terms (see renderKeys).
    if (c.holdoutArch?.length && (c.valTable || c.holdout?.length))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['holdoutArch'],
        message: '{holdoutArch} holds out whole architectures: drop {holdout} and {valTable}',
      });
  });

/** Checks a fit config; one line naming `source` and the keys, or the flags when the CLI passes `names`. */
export function checkFitConfig(config: unknown, source: string, names?: KeyNames): asserts config is FitConfig {
  const r = FitConfigSchema.safeParse(config);
  if (!r.success) usage(describeZodError(r.error, source, names));
}
