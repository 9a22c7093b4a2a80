import { z } from 'zod';
import { OptimizerSchema, ScheduleSchema } from '../train/config.ts';
import { describeZodError } from '../util/config-errors.ts';
import { usage } from '../util/errors.ts';

const Rewind = z.union([z.literal('init'), z.string().regex(/^epoch:\d+$/, "rewind must be 'init' or 'epoch:K'")]);

export const IrpConfigSchema = z
  .object({
    model: z.string(),
    width: z.number().positive().optional(),
    dataset: z.string().default('mnist'),
    dataDir: z.string().optional(),
    /** Zero-pad images to padTo×padTo (28×28 data on 32×32 models). */
    padTo: z.number().int().positive().optional(),
    /** Batch norm after each conv (default: on for resnet/vgg, off for the LeNets). */
    batchNorm: z.boolean().optional(),
    criterion: z.string().default('magnitude'),
    rounds: z.number().int().min(1, 'rounds must be ≥ 1').max(255).default(20),
    finalDensity: z.number().gt(0, 'final density must be in (0, 1)').lt(1, 'final density must be in (0, 1)').default(0.01),
    schedule: z.enum(['equal-count', 'geometric']).default('equal-count'),
    /**
     * Which survivors a round keeps: 'global' (one threshold over the net; the default) or 'layer' (every
     * tensor keeps the round's density). Optional, so the hashes of runs made before it existed hold.
     */
    scope: z.enum(['global', 'layer']).optional(),
    epochsPerRound: z.number().int().positive().default(2),
    /** Survivors go back to θ₀ ('init') or to the dense weights after K epochs ('epoch:K'). */
    rewind: Rewind.default('init'),
    samplesPerClass: z.number().int().positive().default(10),
    /** BN mode of the θ₀ features (AutoS reference: eval). */
    featureBnMode: z.enum(['train', 'eval']).default('eval'),
    temperature: z.number().positive().default(200),
    chunkSize: z.number().int().positive().optional(),
    seed: z.number().int().nonnegative().default(0),
    train: z
      .object({
        batchSize: z.number().int().positive().default(64),
        optimizer: OptimizerSchema.default({}),
        schedule: ScheduleSchema.default({}),
      })
      .strict()
      .default({}),
  })
  .strict();

export type IrpConfig = z.infer<typeof IrpConfigSchema>;

export function parseIrpConfig(input: unknown, source: string): IrpConfig {
  const r = IrpConfigSchema.safeParse(input);
  if (!r.success) usage(describeZodError(r.error, source));
  const c = r.data;
  const k = rewindEpoch(c);
  if (k !== null && k > c.epochsPerRound) {
    usage(`${source}: rewind epoch ${k} is beyond the ${c.epochsPerRound} training epochs per round; choose K ≤ epochsPerRound`);
  }
  return c;
}

/** K for 'epoch:K', null for 'init'. */
export function rewindEpoch(c: Pick<IrpConfig, 'rewind'>): number | null {
  return c.rewind === 'init' ? null : Number(c.rewind.slice('epoch:'.length));
}

/** Kept fraction after round i (0-based) of E. */
export function densityAfterRound(c: Pick<IrpConfig, 'schedule' | 'finalDensity' | 'rounds'>, i: number): number {
  const { finalDensity: d, rounds: e } = c;
  if (i === e - 1) return d;
  // equal-count: each round removes (1 − d)·N/E weights; geometric: keeps d^(1/E) of the survivors.
  return c.schedule === 'equal-count' ? 1 - ((i + 1) * (1 - d)) / e : d ** ((i + 1) / e);
}
