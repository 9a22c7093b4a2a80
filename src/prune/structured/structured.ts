import type { Model, ParamMap } from '../../models/types.ts';
import type { ChannelKeep } from '../../models/shrink.ts';
import type { BnMode, ScoringBatches } from '../../scoring/features.ts';
import { roundDensity } from '../../scoring/select.ts';
import { channelScores, type StructuredCriterion } from '../../scoring/channels/channel-scores.ts';
import { channelBudget, selectChannels } from '../../scoring/channels/select-channels.ts';

export interface StructuredRequest {
  criterion: StructuredCriterion;
  model: Model;
  params: ParamMap;
  data?: ScoringBatches;
  /** Kept fraction of all channels. */
  density: number;
  /** Geometric steps toward the target, re-scoring the gated net each step (EarlyCroP: 5). */
  iterations: number;
  bnMode: BnMode;
  seed: number;
  onRound?: (round: number, rounds: number) => void;
}

export interface StructuredResult {
  /** 1 = kept, per channel group. */
  bits: Map<string, Uint8Array>;
  /** Kept indices, ascending, per channel group (for shrinkModel). */
  keep: ChannelKeep;
  /** Scores of the last step. */
  scores: Map<string, Float32Array>;
  rounds: number;
}

/** Channel-level pruning toward `density` of all channels, never emptying a group. */
export async function structuredPrune(req: StructuredRequest): Promise<StructuredResult> {
  const groups = req.model.channelGroups;
  let bits: Map<string, Uint8Array> = new Map(groups.map((g) => [g.name, new Uint8Array(g.size).fill(1)]));
  let scores = new Map<string, Float32Array>();
  for (let r = 0; r < req.iterations; r++) {
    req.onRound?.(r, req.iterations);
    scores = await channelScores(req.criterion, {
      model: req.model,
      params: req.params,
      data: req.data,
      bnMode: req.bnMode,
      alive: bits,
      seed: req.seed,
      round: r,
    });
    bits = selectChannels(groups, scores, bits, channelBudget(groups, roundDensity(req.density, r, req.iterations)));
  }
  const keep: ChannelKeep = new Map([...bits].map(([g, b]) => [g, [...b.keys()].filter((i) => b[i])]));
  return { bits, keep, scores, rounds: req.iterations };
}
