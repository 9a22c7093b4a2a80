import { z } from 'zod';
import { type IrpConfig, IrpConfigSchema } from '../irp/config.ts';
import { TargetSchema, TrainConfigSchema } from '../train/config.ts';
import { type Target, targetLabel } from '../spec/target.ts';
import { describeZodError } from '../util/config-errors.ts';
import { refuseRepeats, usage } from '../util/errors.ts';

/**
 * pipelines/default.json: IRP on a source net → fit AutoS → prune a target net with several criteria ×
 * sparsities × seeds → train each. A transfer evaluation names several IRP `sources` (AutoS is fitted
 * on all their tables) and several `prune.targets`.
 */
export const MainJobSchema = z
  .object({
    /** One IRP source (its run lives in <out>/irp) … */
    irp: IrpConfigSchema.optional(),
    /** … or several (each in <out>/irp/<model>[-w<width>]-<dataset>_<hash>). */
    sources: z.array(IrpConfigSchema).min(1).optional(),
    /** Evaluate on a target whose architecture is also a source (not transfer); refused unless true. */
    allowSeenTargets: z.boolean().optional(),
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
        /** One target (model, width, batchNorm, dataset, padTo) … */
        model: z.string().optional(),
        width: z.number().positive().optional(),
        batchNorm: z.boolean().optional(),
        dataset: z.string().optional(),
        padTo: z.number().int().positive().optional(),
        /** … or several. */
        targets: z.array(TargetSchema).min(1).optional(),
        /** Criteria; 'autos' may carry an allocation as autos@<allocation>, e.g. autos@grasp. */
        criteria: z.array(z.string()).min(1),
        sparsities: z.array(z.number().gt(0).lt(1)).min(1),
        seeds: z.array(z.number().int().nonnegative()).min(1).default([0]),
        samplesPerClass: z.number().int().positive().default(10),
        /** Hyperparameters per criterion, e.g. { "prospr": { "steps": 5 } } (default: each criterion's paper values). */
        criterionOptions: z.record(z.string(), z.record(z.string(), z.number())).optional(),
        /** Trainer overrides on top of pipelines/train-<model>-<dataset>.json (the target's own keys live on the target). */
        train: TrainConfigSchema.omit({ model: true, dataset: true, seed: true, width: true, batchNorm: true, padTo: true }).partial().default({}),
      })
      .strict(),
  })
  .strict();

export type MainJobConfig = z.infer<typeof MainJobSchema>;

/** The IRP sources in order: `sources`, or the one `irp`. */
export function sourcesOf(config: MainJobConfig): IrpConfig[] {
  return config.sources ?? (config.irp ? [config.irp] : []);
}

/** The evaluation targets in order: `prune.targets`, or the one target given by prune.model/width/…. */
export function targetsOf(config: MainJobConfig): Target[] {
  const p = config.prune;
  if (p.targets) return p.targets;
  return p.model === undefined ? [] : [{ model: p.model, width: p.width, batchNorm: p.batchNorm, dataset: p.dataset ?? 'mnist', padTo: p.padTo }];
}

/**
 * The checks a schema cannot express, as one line each: exactly one of irp/sources and of
 * prune.model/prune.targets, no duplicate sources or targets, and no target whose architecture is a
 * source's unless `allowSeenTargets`.
 */
export function checkMainJob(config: MainJobConfig, source: string): void {
  if (!config.irp === !config.sources)
    usage(`${source}: give either "irp" (one IRP source) or "sources" (a list of IRP configs), ${config.irp ? 'not both' : 'one of them'}`);
  const p = config.prune;
  const single = p.model !== undefined || p.width !== undefined || p.batchNorm !== undefined || p.dataset !== undefined || p.padTo !== undefined;
  if (p.targets && single) usage(`${source}: prune has "targets" and a single target's model/width/batchNorm/dataset/padTo; keep one of the two forms`);
  if (!p.targets && p.model === undefined)
    usage(`${source}: prune needs "model" (one target) or "targets" (a list of {model, width?, batchNorm?, dataset, padTo?})`);
  const sources = sourcesOf(config);
  const seenSource = new Map<string, number>();
  sources.forEach((s, i) => {
    const key = JSON.stringify(s);
    if (seenSource.has(key)) usage(`${source}: sources[${i}] repeats sources[${seenSource.get(key)}]; list each IRP source once`);
    seenSource.set(key, i);
  });
  for (const key of ['criteria', 'sparsities', 'seeds'] as const) refuseRepeats(source, `prune.${key}`, p[key]);
  const labels = new Map<string, number>();
  targetsOf(config).forEach((t, i) => {
    const where = p.targets ? `prune.targets[${i}]` : 'prune';
    const label = targetLabel(t);
    if (labels.has(label))
      usage(`${source}: ${where} (${label}) repeats prune.targets[${labels.get(label)}]'s model, width and dataset; the results could not tell them apart`);
    labels.set(label, i);
    if (!config.allowSeenTargets && sources.some((s) => s.model === t.model)) {
      usage(`${source}: ${where} '${t.model}' is also a source architecture, so evaluating on it is not transfer; drop it or set "allowSeenTargets": true`);
    }
  });
}

export function parseMainJob(input: unknown, source: string): MainJobConfig {
  const r = MainJobSchema.safeParse(input);
  if (!r.success) usage(describeZodError(r.error, source));
  checkMainJob(r.data, source);
  return r.data;
}
