import type { BackendInfo } from '../engine/backend.ts';
import { createModel, initParams, type ModelName } from '../models/index.ts';
import { type CostRatios, costRatios, type StepCost, stepCost } from '../train/step-cost.ts';
import { type BenchHeader, benchHeader } from './workloads.ts';
import * as tf from '@tensorflow/tfjs';

export interface StructuredBenchResult extends BenchHeader {
  channel_fraction: number;
  /** Channels per group of the shrunk model. */
  channels: Record<string, number>;
  dense: StepCost;
  structured: StepCost;
  /** dense ÷ structured. */
  speedup: CostRatios;
}

/** Dense model vs the same model with every channel group kept at `fraction` (≥ 1 channel): what shrinking buys. */
export async function runStructuredBench(
  opts: { model: ModelName; width?: number; batch: number; repeat: number; fraction: number },
  backend: BackendInfo,
): Promise<StructuredBenchResult> {
  const dense = createModel(opts.model, { width: opts.width });
  const channels = Object.fromEntries(dense.channelGroups.map((g) => [g.name, Math.max(1, Math.round(opts.fraction * g.size))]));
  const small = createModel(opts.model, { width: opts.width, channels });
  const measure = async (m: typeof dense) => {
    const p = initParams(m, 0);
    const cost = await stepCost(m, p, opts.batch, opts.repeat);
    tf.dispose(Object.values(p));
    return cost;
  };
  const d = await measure(dense);
  const s = await measure(small);
  return {
    ...benchHeader(backend, opts.model, dense.config.width, opts.batch),
    channel_fraction: opts.fraction,
    channels,
    dense: d,
    structured: s,
    speedup: costRatios(d, s),
  };
}
