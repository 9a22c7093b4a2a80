import { z } from 'zod';
import { IrpConfigSchema } from '../irp/config.ts';
import { describeZodError, TrainConfigSchema } from '../train/config.ts';
import { usage } from '../util/errors.ts';

/** pipelines/default.json: IRP on a source net → fit AutoS → prune a target net with several criteria × sparsities × seeds → train each. */
export const MainJobSchema = z
  .object({
    irp: IrpConfigSchema,
    autos: z
      .object({
        features: z.array(z.string()).optional(),
        hidden: z.array(z.number().int().positive()).default([64, 64]),
        loss: z.enum(['mse', 'rank']).default('mse'),
        /** 'survival' (the reference) or 'rank': the label's percentile within its tensor. */
        target: z.enum(['survival', 'rank']).default('survival'),
        lr: z.number().positive().default(0.01),
        epochs: z.number().int().positive().default(10),
        seed: z.number().int().nonnegative().default(1),
      })
      .strict()
      .default({}),
    prune: z
      .object({
        model: z.string(),
        width: z.number().positive().optional(),
        dataset: z.string().default('mnist'),
        /** Criteria; 'autos' may carry an allocation as autos@<allocation>, e.g. autos@grasp. */
        criteria: z.array(z.string()).min(1),
        sparsities: z.array(z.number().gt(0).lt(1)).min(1),
        seeds: z.array(z.number().int().nonnegative()).min(1).default([0]),
        samplesPerClass: z.number().int().positive().default(10),
        train: TrainConfigSchema.omit({ model: true, dataset: true, seed: true, width: true }).partial().default({}),
      })
      .strict(),
  })
  .strict();

export type MainJobConfig = z.infer<typeof MainJobSchema>;

export function parseMainJob(input: unknown, source: string): MainJobConfig {
  const r = MainJobSchema.safeParse(input);
  if (!r.success) usage(describeZodError(r.error, source));
  return r.data;
}
