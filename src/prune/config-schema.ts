import { z } from 'zod';
import { ALL_FEATURES } from '../scoring/autos/features.ts';
import { STRUCTURED_CRITERIA } from '../scoring/channels/channel-scores.ts';
import { CRITERIA, defaultAllocationOf } from '../scoring/criteria/index.ts';
import { TrainConfigSchema } from '../train/config.ts';
import { describeZodError, type KeyNames } from '../util/config-errors.ts';
import { usage } from '../util/errors.ts';
import { latestPruneEpoch, type PruneConfig } from './config.ts';

const positiveInt = z.number().int().positive();

/**
 * A prune job's config as a value (what `runPrune` takes from a library caller, a sweep's job.json or the
 * CLI): every key, its type and range, unknown keys refused, and the rules between keys (crossKeyRules).
 * What needs the file system or the built model (a table that exists, a density that keeps a weight of
 * every layer) is checked next by preparePrune.
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
  .strict()
  .superRefine((c, ctx) => {
    const broken = crossKeyRules(c as PruneConfig);
    if (broken) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [broken.key], message: broken.message });
  });

/**
 * The first rule between keys that `c` breaks: the key to change and a message naming keys as {key}
 * (rendered as keys for a JSON config, as flags by the CLI).
 */
function crossKeyRules(c: PruneConfig): { key: string; message: string } | undefined {
  const criterion = CRITERIA[c.criterion];
  if (!criterion) return { key: 'criterion', message: `unknown criterion '${c.criterion}': choose one of ${Object.keys(CRITERIA).join(', ')}` };
  if (c.criterion === 'lottery' && !c.table) return { key: 'table', message: "criterion 'lottery' needs {table}: a survival.arrow from 'pipeline irp'" };
  if (c.criterion === 'autos' && !c.autos) return { key: 'autos', message: "criterion 'autos' needs {autos}: a model directory from 'pipeline fit-autos'" };
  if (c.structured) {
    if (!(STRUCTURED_CRITERIA as readonly string[]).includes(c.criterion))
      return {
        key: 'criterion',
        message: `{structured} scores channels with ${STRUCTURED_CRITERIA.join(', ')}, not '${c.criterion}': pick one of those or drop {structured}`,
      };
    if ((c.allocation ?? 'global') !== 'global' || c.scope !== 'global' || c.minLayerDensity !== undefined)
      return { key: 'structured', message: '{structured} ranks channels globally with ≥ 1 per layer: drop {allocation}, {scope} and {minLayerDensity}' };
  }
  const when = c.when ?? 'init';
  if (when !== 'init') {
    if (c.criterion === 'lottery')
      return { key: 'when', message: `criterion 'lottery' trains the ticket from its own θ₀; {when} ${when} does not apply to it: drop {when}` };
    if (!c.train) return { key: 'train', message: `{when} ${when} trains before pruning: add {train}` };
    const epochs = c.train.epochs;
    const k = latestPruneEpoch(when, c.earlyMaxEpochs, epochs);
    if (!(k >= 1 && k < epochs))
      return {
        key: 'when',
        message: `{when} ${when} must prune after 1 to ${epochs - 1} dense epochs of the ${epochs} trained; adjust {train.epochs} or {when}`,
      };
  }
  const allocation = c.allocation ?? defaultAllocationOf(c.criterion);
  if (!c.structured && allocation === 'survival' && c.criterion !== 'autos')
    return { key: 'allocation', message: "{allocation} survival needs {criterion} autos (it allocates by AutoS's predicted survival)" };
  if (!c.structured && allocation === 'learned' && !c.autos)
    return { key: 'autos', message: "{allocation} learned needs {autos}: a model directory from 'pipeline fit-autos' (its allocation.json)" };
  if (c.dataset === 'none') {
    if (criterion.needsData)
      return { key: 'dataset', message: `criterion '${c.criterion}' needs scoring data but {dataset} is none: name a dataset (e.g. mnist)` };
    if (c.dumpScores)
      return {
        key: 'dumpScores',
        message: '{dumpScores} writes g and Hg, which need scoring data, but {dataset} is none: name a dataset (e.g. mnist) or drop {dumpScores}',
      };
    if (c.train) return { key: 'train', message: '{train} needs a dataset to train on, but {dataset} is none: name a dataset (e.g. mnist)' };
  }
  if (c.signalFloor && (allocation === 'global' || c.structured))
    return { key: 'signalFloor', message: '{signalFloor} applies to a layer allocation: set {allocation} (layer, erk, learned, survival or a criterion)' };
  if (c.structured && c.dumpScores)
    return { key: 'dumpScores', message: '{dumpScores} writes per-weight scores; with {structured} the channel choice is in channels.json: drop {dumpScores}' };
  return undefined;
}

/**
 * Checks a prune config (see PruneConfigSchema); one line naming `source` and the keys, or the flags
 * when the CLI passes `names`. The config itself is left as given (its hash unchanged).
 */
export function checkPruneConfig(config: unknown, source: string, names?: KeyNames): asserts config is PruneConfig {
  const r = PruneConfigSchema.safeParse(config);
  if (!r.success) usage(describeZodError(r.error, source, names));
}
