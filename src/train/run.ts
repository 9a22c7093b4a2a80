import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readJsonFile } from '../util/json-text.ts';
import { loadDataset } from '../data/registry.ts';
import type { Dataset } from '../data/types.ts';
import type { BackendInfo } from '../engine/backend.ts';
import { writeJsonAtomic } from '../io/atomic.ts';
import { writeManifest } from '../io/manifest.ts';
import { checkRunDir, configHash, emptyRunDir, isFinished, markFinished, recordRunConfig, runDir } from '../io/rundir.ts';
import { lockRunDir } from '../io/run-lock.ts';
import { createModel, initParams, type Model } from '../models/index.ts';
import { readMaskFile } from '../masks/mask-file.ts';
import { checkMasksFit, maskDensity, type Masks } from '../masks/masks.ts';
import type { TrainConfig } from './config.ts';
import { type EpochMetrics, train } from './trainer.ts';

export interface TrainRunRequest {
  config: TrainConfig;
  maskFile?: string;
  out?: string;
  resume?: boolean;
  force?: boolean;
  backend: BackendInfo;
  onEpoch?: (m: EpochMetrics) => void | 'stop' | Promise<void | 'stop'>;
}

export interface TrainRunResult {
  dir: string;
  skipped: boolean;
  final?: EpochMetrics;
  density: number;
}

/** Everything that can be wrong with the input, checked before any output is written. */
export function prepareTrainRun(config: TrainConfig, maskFile?: string): { model: Model; dataset: Dataset; masks?: Masks } {
  const dataset = loadDataset(config.dataset, { dataDir: config.dataDir, padTo: config.padTo });
  const model = createModel(config.model, {
    width: config.width,
    batchNorm: config.batchNorm,
    inputShape: dataset.train.shape,
    numClasses: dataset.numClasses,
  });
  const shapes = new Map<string, number[]>();
  const masks = maskFile ? readMaskFile(maskFile, shapes) : undefined;
  if (masks) checkMasksFit(masks, model, maskFile!, shapes);
  return { model, dataset, masks };
}

/** `pipeline train`: an idempotent, resumable run in a hashed directory. */
export async function runTraining(req: TrainRunRequest): Promise<TrainRunResult> {
  const started = new Date();
  const { config } = req;
  const { model, dataset, masks } = prepareTrainRun(config, req.maskFile);
  const maskHash = req.maskFile ? configHash(fs.readFileSync(req.maskFile).toString('base64')) : null;
  const identity = { config, mask: maskHash, backend: req.backend.name };
  const hash = configHash(identity);
  const dir = req.out ?? runDir('runs', 'train', identity);
  const release = lockRunDir(dir);
  try {
    const density = masks ? maskDensity(masks, model) : 1;
    // Another configuration's run (or a directory that is not a run) is refused, never reported as this one's.
    if (!req.force) checkRunDir(dir, identity, 'a training run', { strict: true });
    if (isFinished(dir) && !req.force) {
      const result = readJsonFile(path.join(dir, 'result.json'), 'rerun with --force to redo the training') as { final: EpochMetrics | undefined };
      return { dir, skipped: true, final: result.final, density };
    }
    if (req.force) emptyRunDir(dir, [req.maskFile, config.dataDir]);
    recordRunConfig(dir, identity);
    const t0 = performance.now();
    const result = await train({
      config,
      configHash: hash,
      model,
      dataset,
      params: initParams(model, config.seed),
      masks,
      outDir: dir,
      // The directory holds this configuration's run (checked above) or nothing: a rerun resumes.
      resume: true,
      onEpoch: req.onEpoch,
      label: `train ${config.model}/${config.dataset}`,
    });
    const seconds = (performance.now() - t0) / 1000;
    tf.dispose(Object.values(result.params));
    const final = result.metrics.at(-1);
    if (!result.stopped) {
      writeJsonAtomic(path.join(dir, 'result.json'), { final, density, epochs: result.metrics.length });
      writeManifest(dir, {
        command: 'train',
        config: req,
        resolved: { ...config, maskFile: req.maskFile ?? null, out: dir },
        backend: req.backend,
        timings: { train_seconds: seconds },
        extra: { configHash: hash, density },
        startedAt: started,
      });
      markFinished(dir);
    }
    return { dir, skipped: false, final, density };
  } finally {
    release();
  }
}
