import type { Scores } from '../select.ts';
import type { Model, ParamMap } from '../../models/types.ts';
import type { BnMode, Features, ScoringBatches } from '../features.ts';
import type { Masks } from '../../masks/masks.ts';

export interface ScoringInput {
  model: Model;
  /** θ₀: every model tensor (prunable weights, biases, BN). */
  params: ParamMap;
  /** The scoring sample; absent for data-free criteria. */
  data?: ScoringBatches;
  bnMode: BnMode;
  /** Current mask during iterative pruning (pruned weights are excluded from ranking anyway). */
  masks?: Masks;
  seed: number;
  /** Round of iterative pruning, 0-based (random draws fresh scores per round). */
  round: number;
  /** GraSP's temperature. */
  temperature: number;
  /** Survival table (lottery). */
  table?: string;
  /** Fitted AutoS model directory (autos). */
  autos?: string;
  /** Overrides of the criterion's own hyperparameters; the criterion fills in its defaults (resolveOptions). */
  options?: Record<string, number>;
}

export interface ScoreOutput {
  /** Keep-scores per prunable tensor: higher = keep. */
  scores: Scores;
  /** θ, g, Hg at the scored point, when the criterion computed them (for --dump-scores). */
  features?: Features;
}

/** A pruning criterion: one file each under src/scoring/criteria/. */
export interface Criterion {
  name: string;
  description: string;
  needsData: boolean;
  /** BN mode the reference scores with, used when --bn-mode is not given. */
  defaultBnMode: BnMode;
  /** Prunes in this many internal rounds toward the target (SynFlow: 100). */
  defaultIterations: number;
  /** Layer allocation when none is given; absent: one global threshold. */
  defaultAllocation?: string;
  /**
   * For a recipe still being tuned (autos): sweeps and runs write its default iterations into every
   * job config, so a changed default gets new job directories instead of reusing finished ones.
   */
  iterationsInJobs?: boolean;
  /**
   * The seed of the θ₀ the masks belong to, when it is not the job's (lottery: the ticket's own
   * initialization, read from its survival table). The job's seed still orders the training data.
   */
  initSeed?(input: { table?: string }): number;
  /**
   * Pruned weights may come back: each round ranks every weight, not only the survivors of the
   * previous round (FORCE).
   */
  regrows?: boolean;
  /** Hyperparameters a job may override (`criterionOptions`), with the paper's values as defaults. */
  options?: Record<string, CriterionOption>;
  score(input: ScoringInput): Promise<ScoreOutput>;
}

export interface CriterionOption {
  default: number;
  description: string;
  /** Whole numbers only (counts of steps or draws). */
  integer?: boolean;
  /** Smallest allowed value (inclusive); default: any value > 0. */
  min?: number;
}
