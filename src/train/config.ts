import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { describeZodError } from '../util/config-errors.ts';
import { parseJsonText } from '../util/json-text.ts';
import { usage, withPath } from '../util/errors.ts';

export const OptimizerSchema = z
  .object({
    type: z.enum(['sgd', 'adam']).default('sgd'),
    lr: z.number().positive().default(0.1),
    momentum: z.number().min(0).max(1).default(0.9),
    nesterov: z.boolean().default(false),
    weightDecay: z.number().min(0).default(0),
    betas: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]).default([0.9, 0.999]),
    eps: z.number().positive().default(1e-8),
  })
  .strict();

export const ScheduleSchema = z
  .object({
    type: z.enum(['constant', 'multistep', 'cosine', 'onecycle']).default('constant'),
    /** multistep: epochs (fractions of the run when < 1) at which lr is multiplied by gamma. */
    milestones: z.array(z.number().nonnegative()).default([]),
    gamma: z.number().positive().default(0.1),
    /** onecycle: fraction of the run spent warming up from lr/25 to lr. */
    warmup: z.number().min(0).max(1).default(0.3),
  })
  .strict();

/** A network and the data it is pruned and trained on (a sweep's or a transfer run's target). */
export const TargetSchema = z
  .object({
    model: z.string(),
    width: z.number().positive().optional(),
    /** Batch norm after each conv (default: on for resnet/vgg, off for the LeNets). */
    batchNorm: z.boolean().optional(),
    dataset: z.string().default('mnist'),
    dataDir: z.string().optional(),
    /** Zero-pad images to padTo×padTo (28×28 data on 32×32 models). */
    padTo: z.number().int().positive().optional(),
  })
  .strict();

/** The target's keys first (same order, so parsed configs and their hashes are unchanged), then the recipe. */
export const TrainConfigSchema = TargetSchema.extend({
  epochs: z.number().int().positive().default(3),
  /** Caps the run at this many optimizer steps (overrides epochs when smaller). */
  steps: z.number().int().positive().optional(),
  batchSize: z.number().int().positive().default(64),
  optimizer: OptimizerSchema.default({}),
  schedule: ScheduleSchema.default({}),
  seed: z.number().int().nonnegative().default(0),
  evalBatchSize: z.number().int().positive().default(500),
}).strict();

export type TrainConfig = z.infer<typeof TrainConfigSchema>;

export function parseTrainConfig(input: unknown, source: string): TrainConfig {
  const result = TrainConfigSchema.safeParse(input);
  if (!result.success) usage(describeZodError(result.error, source));
  return result.data;
}

/** The path of the first non-finite number in a parsed JSON value (1e999 parses as Infinity), if any. */
function nonFinitePath(value: unknown, at = ''): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : at || '(the value)';
  if (value === null || typeof value !== 'object') return undefined;
  for (const [k, v] of Object.entries(value)) {
    const found = nonFinitePath(v, at ? `${at}.${k}` : k);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Reads a JSON preset; missing files and bad JSON are one-line usage errors. */
export function readPreset(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw withPath(err, file); // a directory, no permission: the filesystem error path
    usage(`preset ${file} not found: pass an existing JSON file (see pipelines/)`);
  }
  const value = parseJsonText(text, `preset ${file}`, 'fix the file');
  const infinite = nonFinitePath(value);
  if (infinite !== undefined) usage(`preset ${file}: '${infinite}' is not a finite number (JSON numbers like 1e999 overflow to Infinity); fix the file`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    usage(
      `preset ${file} holds ${Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`}, not a JSON object of settings; fix the file`,
    );
  }
  return value as Record<string, unknown>;
}

/** Deep-merges plain objects (overrides win; undefined values are ignored). */
export function mergeConfig(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? mergeConfig(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export const PIPELINES_DIR = path.resolve(import.meta.dirname, '../../pipelines');

/** The default training preset for a model/dataset pair, if the project ships one. */
export function defaultTrainPreset(model: string, dataset: string): string | undefined {
  const file = path.join(PIPELINES_DIR, `train-${model}-${dataset}.json`);
  return fs.existsSync(file) ? file : undefined;
}

/**
 * For a model/dataset pair without a preset of its own: the optimizer and schedule every shipped
 * training preset uses (pipelines/train-*.json: SGD with momentum 0.9 and weight decay 1e-4, lr 0.05
 * on a cosine schedule), with the batch (64) and epochs (3) of train-lenet300-mnist.json, instead of
 * the schema's bare defaults (constant lr 0.1, no weight decay).
 */
export const DEFAULT_RECIPE = {
  epochs: 3,
  batchSize: 64,
  optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 1e-4 },
  schedule: { type: 'cosine' },
} as const;

/**
 * The base a model/dataset pair trains from, before flags and config keys: its preset file, or
 * DEFAULT_RECIPE with a note saying so (commands print it on stderr).
 */
export function trainRecipe(model: string, dataset: string): { base: Record<string, unknown>; source?: string; note?: string } {
  const preset = defaultTrainPreset(model, dataset);
  if (preset) return { base: readPreset(preset), source: preset };
  return {
    base: structuredClone(DEFAULT_RECIPE) as unknown as Record<string, unknown>,
    note: `no pipelines/train-${model}-${dataset}.json: ${model} on ${dataset} trains from the default recipe (SGD lr 0.05, momentum 0.9, weight decay 1e-4, cosine, batch 64, 3 epochs) under the given keys`,
  };
}

/** The notes of trainRecipe for these targets, each once. */
export function recipeNotes(targets: ReadonlyArray<{ model: string; dataset?: string }>): string[] {
  return [...new Set(targets.map((t) => trainRecipe(t.model, t.dataset ?? 'mnist').note).filter((n): n is string => n !== undefined))];
}
