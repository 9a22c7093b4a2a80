import type { FeatureName } from '../scoring/autos/features.ts';
import type { TrainConfig } from '../train/config.ts';
import type { BnMode } from '../scoring/features.ts';
import type { Scope } from '../scoring/select.ts';
import type { StructuredReport } from './structured/stage.ts';

export interface PruneConfig {
  criterion: string;
  model: string;
  width?: number;
  /** 'none' for data-free criteria (then inputShape/numClasses say what the model sees). */
  dataset: string;
  dataDir?: string;
  /** Zero-pad images to padTo×padTo. */
  padTo?: number;
  /** Batch norm after each conv (default: on for resnet/vgg, off for the LeNets). */
  batchNorm?: boolean;
  inputShape?: [number, number, number];
  numClasses?: number;
  density: number;
  scope: Scope;
  samplesPerClass: number;
  /** Default: the criterion's reference mode (GraSP/SNIP train, SynFlow eval). */
  bnMode?: BnMode;
  seed: number;
  iterations?: number;
  /** Replace kept weights on no input→output path after pruning (scoring/connectivity.ts); default off. */
  reconnect?: boolean;
  minLayerDensity?: number;
  temperature: number;
  /** Overrides of the criterion's own hyperparameters (prospr's steps, ntk-sap's draws, …); absent: its defaults. */
  criterionOptions?: Record<string, number>;
  /** Scoring-sample chunk (memory knob); default the whole sample. */
  chunkSize?: number;
  dumpScores: boolean;
  /** Survival table for the lottery criterion. */
  table?: string;
  /** Fitted AutoS model directory for the autos criterion. */
  autos?: string;
  /** Feature list the caller expects the AutoS model to use (checked against the model's spec). */
  autosFeatures?: FeatureName[];
  /**
   * Layer allocation: global | layer | erk | learned (per-layer densities from the --autos dir's
   * allocation.json, with the signal floor) | survival (autos: ∝ predicted survival) | <criterion> (its
   * per-layer counts). Default: the criterion's own (synflow for autos, global for the others).
   */
  allocation?: string;
  /**
   * Every tensor keeps at least min(size, max(units in, units out)) weights (the budget is still met
   * exactly); applies to every allocation but global (always on for learned).
   */
  signalFloor?: boolean;
  /** Train the pruned network afterwards with this trainer config. */
  train?: TrainConfig;
  /**
   * When to prune: 'init' (θ₀, default), 'epoch:K' (after K dense epochs) or 'early' (EarlyCroP: once
   * the relative weight distance plateaus, at most `earlyMaxEpochs`). Needs `train`; the pruned net then
   * trains for the remaining epochs with a fresh optimizer and schedule.
   */
  when?: string;
  earlyMaxEpochs?: number;
  /**
   * Channel pruning (EarlyCroP): `density` is then the kept fraction of channels; the pruned channels
   * are physically removed and the smaller dense model is what trains.
   */
  structured?: boolean;
}

export interface LayerReport {
  name: string;
  size: number;
  kept: number;
  density: number;
}

export interface PruneReport {
  criterion: string;
  model: string;
  width: number;
  dataset: string;
  density: number;
  target_density: number;
  sparsity: number;
  scope: Scope;
  allocation: string;
  iterations: number;
  /** The criterion's hyperparameters as used (defaults with the job's overrides), for criteria that have any. */
  criterion_options?: Record<string, number>;
  /**
   * Disconnected kept weights were replaced: how many were dropped over all passes, and how many are left
   * (in tensors that could not refill, or with no path possible at all).
   */
  reconnect: boolean;
  reconnect_dropped?: number;
  reconnect_left?: number;
  /**
   * Kept weights on some input→output path ÷ all prunable weights (≤ density; unstructured only):
   * what the network can actually use.
   */
  effective_density?: number;
  bn_mode: BnMode;
  samples_per_class: number | null;
  seed: number;
  /** Seed of the θ₀ that trained (the job's seed, or lottery's ticket init). */
  init_seed: number;
  layers: LayerReport[];
  /** The fewest weights any tensor kept, and that tensor (the first one in forward order on a tie). */
  min_layer_kept: number;
  min_layer: string;
  /** The signal floor was applied (--signal-floor, or allocation learned). */
  signal_floor: boolean;
  grad_norm_ratio: number | null;
  /** Dense epochs trained before pruning (0 = at initialization). */
  pruned_at_epoch: number;
  test_accuracy?: number;
  test_loss?: number;
  /** --structured: channels kept, and the shrunk model's size and measured cost vs the dense one. */
  structured?: StructuredReport;
  seconds: { score: number; grad_norm: number; train?: number };
}

/**
 * The latest dense epoch a `when` other than 'init' prunes after: K for 'epoch:K', `earlyMaxEpochs`
 * (default: all epochs but the last) for 'early'.
 */
export function latestPruneEpoch(when: string, earlyMaxEpochs: number | undefined, epochs: number): number {
  return when === 'early' ? (earlyMaxEpochs ?? epochs - 1) : Number(when.slice('epoch:'.length));
}
