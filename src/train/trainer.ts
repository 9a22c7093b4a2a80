import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { yieldToEventLoop } from '../util/yield.ts';
import { usage } from '../util/errors.ts';
import { epochOrder, iterateBatches, makeBatch } from '../data/batches.ts';
import type { Dataset } from '../data/types.ts';
import { appendJsonLine, writeFileAtomic } from '../io/atomic.ts';
import type { Model, ParamMap } from '../models/types.ts';
import { type Masks, maskTensors } from '../masks/masks.ts';
import { createProgress } from '../util/progress.ts';
import { Rng } from '../util/rng.ts';
import { loadCheckpoint, saveCheckpoint, saveParams } from './checkpoint.ts';
import type { TrainConfig } from './config.ts';
import { evaluate } from './evaluate.ts';
import { Optimizer } from './optimizer.ts';
import { learningRate } from './schedule.ts';
import { trainStep } from './train-step.ts';

export interface EpochMetrics {
  epoch: number;
  step: number;
  lr: number;
  train_loss: number;
  train_accuracy: number;
  test_loss: number;
  test_accuracy: number;
  seconds: number;
}

export interface TrainOptions {
  config: TrainConfig;
  /** Hash of the resolved config; a checkpoint from another config is refused on resume. */
  configHash: string;
  model: Model;
  dataset: Dataset;
  /** θ₀; consumed (the trainer owns and replaces these tensors). */
  params: ParamMap;
  masks?: Masks;
  /** Where checkpoint.safetensors and metrics.jsonl go; none = in-memory run. */
  outDir?: string;
  resume?: boolean;
  /** Called after each epoch's checkpoint; returning 'stop' ends the run there (used to simulate a kill). */
  onEpoch?: (m: EpochMetrics, params: ParamMap) => void | 'stop' | Promise<void | 'stop'>;
  label?: string;
  /** Also save the parameters after this epoch (1-based) to this safetensors file (late rewinding). */
  snapshot?: { epoch: number; path: string };
}

export interface TrainResult {
  params: ParamMap;
  metrics: EpochMetrics[];
  /** Training ended because of onEpoch's 'stop', not because it finished. */
  stopped: boolean;
}

const AUGMENT_STREAM = 0xa06e;

export function stepsPerEpoch(config: TrainConfig, n: number): number {
  return Math.ceil(n / config.batchSize);
}

export function totalSteps(config: TrainConfig, n: number): number {
  const full = config.epochs * stepsPerEpoch(config, n);
  return config.steps ? Math.min(config.steps, full) : full;
}

/**
 * The epochs up to the checkpoint's from metrics.jsonl. A last line without its newline is an append cut
 * short by a kill: its epoch came after the checkpoint (metrics are appended before it is saved), so it
 * is dropped. Any other line that is not an epoch's record is refused in one line.
 */
function readMetrics(file: string, upToEpoch: number): EpochMetrics[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  if (!text.endsWith('\n')) lines.pop();
  return lines
    .map((l, i) => ({ l, i }))
    .filter(({ l }) => l !== '')
    .map(({ l, i }) => {
      let m: EpochMetrics | undefined;
      try {
        m = JSON.parse(l) as EpochMetrics;
      } catch {
        // refused below
      }
      if (!Number.isInteger(m?.epoch)) usage(`${file}: line ${i + 1} is not an epoch's metrics record; rerun with --force to start over`);
      return m!;
    })
    .filter((m) => m.epoch <= upToEpoch);
}

/**
 * Trains with masks held exactly (pruned weights zero at every forward, optimizer state zeroed),
 * evaluates after every epoch, checkpoints atomically each epoch, and resumes bit-identically:
 * the data order and augmentation of epoch e depend only on (seed, e).
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { config, model, dataset } = opts;
  const n = dataset.train.n;
  const perEpoch = stepsPerEpoch(config, n);
  const total = totalSteps(config, n);
  const epochs = Math.ceil(total / perEpoch);
  const ckptFile = opts.outDir ? path.join(opts.outDir, 'checkpoint.safetensors') : undefined;
  const metricsFile = opts.outDir ? path.join(opts.outDir, 'metrics.jsonl') : undefined;
  let params = opts.params;
  let masks = opts.masks;
  const optimizer = new Optimizer(config.optimizer);
  let startEpoch = 0;
  let step = 0;
  let metrics: EpochMetrics[] = [];

  if (opts.resume && ckptFile && fs.existsSync(ckptFile)) {
    const ck = loadCheckpoint(ckptFile, model, opts.configHash);
    tf.dispose(Object.values(params));
    params = ck.params;
    masks = ck.masks ?? masks;
    optimizer.setState(ck.optimizer);
    startEpoch = ck.epoch;
    step = ck.step;
    metrics = readMetrics(metricsFile!, ck.epoch);
    writeFileAtomic(metricsFile!, metrics.map((m) => JSON.stringify(m) + '\n').join(''));
  } else if (metricsFile && fs.existsSync(metricsFile)) {
    fs.rmSync(metricsFile);
  }

  const maskT = masks ? maskTensors(masks, model) : undefined;
  if (maskT) {
    for (const [name, m] of Object.entries(maskT)) {
      const masked = tf.mul(params[name], m);
      params[name].dispose();
      params[name] = masked;
    }
  }

  if (opts.snapshot?.epoch === 0 && !fs.existsSync(opts.snapshot.path)) await saveParams(opts.snapshot.path, params);
  const progress = createProgress({ total, label: opts.label ?? 'train', unit: 'batch' });
  let stopped = false;
  for (let epoch = startEpoch; epoch < epochs && step < total; epoch++) {
    const started = performance.now();
    const order = epochOrder(n, config.seed, epoch);
    const augmentRng = new Rng((config.seed ^ AUGMENT_STREAM) >>> 0).fork(epoch);
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    let lr = learningRate(config, step, total, perEpoch);
    for (const idx of iterateBatches(dataset.train, order, config.batchSize)) {
      if (step >= total) break;
      lr = learningRate(config, step, total, perEpoch);
      const { x, y } = makeBatch(dataset.train, idx, { dataset, augmentRng });
      const out = await trainStep(model, params, optimizer, x, y, lr, maskT);
      lossSum += out.loss * idx.length;
      correct += out.correct;
      seen += idx.length;
      tf.dispose([x, y]);
      step++;
      await yieldToEventLoop();
      progress.update(step, { epoch: `${epoch + 1}/${epochs}`, loss: (lossSum / seen).toFixed(4) });
    }
    const test = await evaluate(model, params, dataset, dataset.test, config.evalBatchSize);
    const m: EpochMetrics = {
      epoch: epoch + 1,
      step,
      lr,
      train_loss: lossSum / Math.max(1, seen),
      train_accuracy: correct / Math.max(1, seen),
      test_loss: test.loss,
      test_accuracy: test.accuracy,
      seconds: (performance.now() - started) / 1000,
    };
    metrics.push(m);
    if (metricsFile) appendJsonLine(metricsFile, m);
    if (ckptFile) {
      await saveCheckpoint(ckptFile, { params, optimizer: optimizer.getState(), masks, epoch: epoch + 1, step, configHash: opts.configHash });
    }
    if (opts.snapshot && opts.snapshot.epoch === epoch + 1) await saveParams(opts.snapshot.path, params);
    if ((await opts.onEpoch?.(m, params)) === 'stop') {
      stopped = true;
      break;
    }
  }
  progress.stop();
  optimizer.dispose();
  if (maskT) tf.dispose(Object.values(maskT));
  return { params, metrics, stopped };
}
