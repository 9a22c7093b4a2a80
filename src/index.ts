/**
 * The library: the three stages, the pieces they are made of, and the engine they run on. Every
 * stage writes a run directory exactly as the CLI does (the CLI is a thin layer over these).
 *
 *   import { initBackend, parseIrpConfig, runIrp, fitAutos, runPrune } from 'pipeline';
 */
export { initBackend, shutdownBackend, type BackendInfo } from './engine/backend.ts';

export { parseIrpConfig, type IrpConfig } from './irp/config.ts';
export { runIrp, type IrpResult } from './irp/run.ts';
export { fitAutos, type FitConfig, type FitMetrics } from './autos/fit.ts';
export { FitConfigSchema } from './autos/fit-config-schema.ts';
export { runPrune } from './prune/run.ts';
export type { PruneConfig, PruneReport } from './prune/config.ts';
export { PruneConfigSchema } from './prune/config-schema.ts';
export { parseTrainConfig, type TrainConfig } from './train/config.ts';
export { runTraining } from './train/run.ts';
export { parseMainJob, type MainJobConfig } from './run/config.ts';
export { runMainJob } from './run/main-job.ts';
export { runSweep } from './sweep/run.ts';

export { CRITERIA, getCriterion, type Criterion, type ScoringInput, type ScoreOutput } from './scoring/criteria/index.ts';
export { prune } from './scoring/prune.ts';
export { computeFeatures } from './scoring/features.ts';
export { createModel, parameterCount, MODEL_NAMES, type Model } from './models/index.ts';
export { loadDataset, datasetNames } from './data/registry.ts';
export type { Dataset } from './data/types.ts';
