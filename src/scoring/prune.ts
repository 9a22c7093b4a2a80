import type { Scores } from './select.ts';
import type { Model, ParamMap } from '../models/types.ts';
import type { Criterion } from './criteria/types.ts';
import { type BnMode, computeFeatures, type Features, type ScoringBatches } from './features.ts';
import type { Masks } from '../masks/masks.ts';
import { reconnect } from './connectivity.ts';
import { resolveOptions } from './criteria/options.ts';
import { yieldToEventLoop } from '../util/yield.ts';
import { roundCounts, roundDensity, type Scope, selectMasks } from './select.ts';

export interface PruneRequest {
  criterion: Criterion;
  model: Model;
  params: ParamMap;
  data?: ScoringBatches;
  density: number;
  scope: Scope;
  minLayerDensity?: number;
  /** Rounds toward the target (geometric); default the criterion's own (SynFlow 100, others 1). */
  iterations?: number;
  bnMode: BnMode;
  seed: number;
  temperature: number;
  table?: string;
  autos?: string;
  /** Overrides of the criterion's hyperparameters (its declared options); the rest keep their defaults. */
  options?: Record<string, number>;
  /**
   * Per-tensor kept counts for a density, given scores (layer allocation). With several rounds it is
   * asked once, after the first round's scoring, for the final density; the rounds then shrink every
   * tensor geometrically toward its count (roundCounts).
   */
  allocate?: (scores: Scores, density: number) => Map<string, number> | Promise<Map<string, number>>;
  /** After the last round, replace kept weights on no input→output path (connectivity.ts). */
  reconnect?: boolean;
  onRound?: (round: number, rounds: number) => void;
  /** Each round's masks as selected (before reconnect): for checks of one round at a time against a reference. */
  onRoundMasks?: (round: number, masks: Masks) => void;
}

export interface PruneResult {
  masks: Masks;
  /** Keep-scores of the last round. */
  scores: Scores;
  /** θ, g, Hg from the last round when the criterion computed them. */
  features?: Features;
  rounds: number;
  /** With `reconnect`: disconnected weights dropped (and refilled), and those left. */
  reconnected?: { dropped: number; left: number };
}

/** Scores and masks at initialization; iterative rounds re-score the masked network. */
export async function prune(req: PruneRequest): Promise<PruneResult> {
  const rounds = req.iterations ?? req.criterion.defaultIterations;
  const options = resolveOptions(req.criterion, req.options);
  let masks: Masks | undefined;
  let last: { scores: Scores; features?: Features } | undefined;
  let finalCounts: Map<string, number> | undefined;
  let beforeLast: Masks | undefined;
  for (let r = 0; r < rounds; r++) {
    await yieldToEventLoop(); // SynFlow's 100 rounds are otherwise one synchronous stretch: signals wait
    req.onRound?.(r, rounds);
    last = await req.criterion.score({
      model: req.model,
      params: req.params,
      data: req.data,
      bnMode: req.bnMode,
      masks,
      seed: req.seed,
      round: r,
      temperature: req.temperature,
      table: req.table,
      autos: req.autos,
      options,
    });
    const density = roundDensity(req.density, r, rounds);
    let counts: Map<string, number> | undefined;
    if (req.allocate) {
      finalCounts ??= await req.allocate(last.scores, req.density);
      counts = roundCounts(req.model, finalCounts, r, rounds);
    }
    beforeLast = masks;
    masks = selectMasks(req.model, last.scores, {
      density,
      counts,
      scope: req.scope,
      minLayerDensity: req.minLayerDensity,
      alive: req.criterion.regrows ? undefined : masks,
      criterion: req.criterion.name,
    });
    req.onRoundMasks?.(r, masks);
  }
  if (!req.reconnect) return { masks: masks!, scores: last!.scores, features: last!.features, rounds };
  const r = await reconnect(req.model, req.params, masks!, last!.scores, beforeLast);
  return { masks: r.masks, scores: last!.scores, features: last!.features, rounds, reconnected: { dropped: r.dropped, left: r.left } };
}

/** θ, g, Hg (GraSP's, temperature T) at θ₀ of the dense net: the columns of --dump-scores and of the IRP table. */
export function initFeatures(model: Model, params: ParamMap, data: ScoringBatches, bnMode: BnMode, temperature: number): Promise<Features> {
  return computeFeatures(model, params, data, { bnMode, temperature, withHg: true });
}
