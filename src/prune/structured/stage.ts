import fs from 'node:fs';
import path from 'node:path';
import { type CostRatios, costRatios, type StepCost, stepCost } from '../../train/step-cost.ts';
import { makeDirs, writeJsonAtomic } from '../../io/atomic.ts';
import type { Model, ModelConfig, ParamMap } from '../../models/types.ts';
import { shrinkModel } from '../../models/shrink.ts';
import { createModel } from '../../models/zoo.ts';
import { loadParams, saveParams } from '../../train/checkpoint.ts';
import { usage } from '../../util/errors.ts';
import type { BnMode, ScoringBatches } from '../../scoring/features.ts';
import type { StructuredCriterion } from '../../scoring/channels/channel-scores.ts';
import { structuredPrune } from './structured.ts';

export interface StructuredReport {
  /** Kept fraction of all channels (each residual-shared group counted once). */
  channel_density: number;
  groups: Array<{ name: string; size: number; kept: number }>;
  /** Measured at the training batch size on this backend. */
  dense: StepCost;
  shrunk: StepCost;
  /** dense ÷ shrunk. */
  speedup: CostRatios;
}

/** Refuses a model without channel groups (lenet300): structured pruning removes conv channels. */
export function requireChannels(model: Model): void {
  if (model.channelGroups.length === 0) {
    usage(
      `${model.config.name} has no channel structure (no conv channels to remove): use a conv model (lenet5, vgg11/16/19, resnet18/20/32), or unstructured pruning`,
    );
  }
}

/**
 * Refuses --structured requests the built model cannot take, before any output exists (the rules
 * between keys — which criteria score channels, no allocation — are PruneConfigSchema's).
 */
export function checkStructured(model: Model, density: number): void {
  const name = model.config.name;
  requireChannels(model);
  const total = model.channelGroups.reduce((n, g) => n + g.size, 0);
  const groups = model.channelGroups.length;
  if (Math.round(density * total) < groups) {
    usage(
      `--density ${density} keeps ${Math.round(density * total)} of ${total} channels, which would empty a layer (${name} has ${groups} channel groups, each keeps ≥ 1): use --density ≥ ${(groups / total).toPrecision(3)}`,
    );
  }
}

export interface ShrunkNet {
  model: Model;
  params: ParamMap;
  report: StructuredReport;
  rounds: number;
}

/**
 * Channel pruning, then the physical shrink. Writes <dir>/channels.json (kept indices per group),
 * <dir>/model.json (the shrunk zoo model's config) and <dir>/shrunk.safetensors (its parameters at the
 * pruning point): loadShrunk(dir) rebuilds it as an ordinary model.
 */
export async function structuredStage(opts: {
  model: Model;
  params: ParamMap;
  data?: ScoringBatches;
  criterion: StructuredCriterion;
  density: number;
  iterations: number;
  bnMode: BnMode;
  seed: number;
  batch: number;
  dir: string;
}): Promise<ShrunkNet> {
  const { model, params } = opts;
  const pruned = await structuredPrune(opts);
  const small = shrinkModel(model, params, pruned.keep);
  const groups = model.channelGroups.map((g) => ({ name: g.name, size: g.size, kept: pruned.keep.get(g.name)!.length }));
  const dense = await stepCost(model, params, opts.batch, 3);
  const shrunk = await stepCost(small.model, small.params, opts.batch, 3);
  const report: StructuredReport = {
    channel_density: groups.reduce((n, g) => n + g.kept, 0) / groups.reduce((n, g) => n + g.size, 0),
    groups,
    dense,
    shrunk,
    speedup: costRatios(dense, shrunk),
  };
  makeDirs(opts.dir);
  writeJsonAtomic(path.join(opts.dir, 'channels.json'), Object.fromEntries(pruned.keep));
  writeJsonAtomic(path.join(opts.dir, 'model.json'), small.model.config);
  await saveParams(path.join(opts.dir, 'shrunk.safetensors'), small.params);
  return { model: small.model, params: small.params, report, rounds: pruned.rounds };
}

/** The shrunk model of a `prune --structured` directory, as an ordinary zoo model with its parameters. */
export function loadShrunk(dir: string, weights = path.join(dir, 'shrunk.safetensors')): { model: Model; params: ParamMap } {
  const file = path.join(dir, 'model.json');
  if (!fs.existsSync(file)) usage(`${dir} has no model.json: it is not the output of 'pipeline prune --structured'`);
  const config = JSON.parse(fs.readFileSync(file, 'utf8')) as ModelConfig;
  const model = createModel(config.name, config);
  return { model, params: loadParams(weights, model) };
}
