import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readJsonFile } from '../util/json-text.ts';
import { loadDataset } from '../data/registry.ts';
import { sampleChunks, scoringSample } from '../data/scoring-sample.ts';
import type { BackendInfo } from '../engine/backend.ts';
import { writeJsonAtomic } from '../io/atomic.ts';
import { writeManifest } from '../io/manifest.ts';
import { lockRunDir } from '../io/run-lock.ts';
import { claimRunDir, configHash, isFinished, markFinished, runDir } from '../io/rundir.ts';
import { loadSafetensors, saveSafetensors, type SafeTensor } from '../io/safetensors.ts';
import { createModel, initParams, type Model, type ParamMap } from '../models/index.ts';
import { getCriterion } from '../scoring/criteria/index.ts';
import { resolveOptions } from '../scoring/criteria/options.ts';
import type { Features, ScoringBatches } from '../scoring/features.ts';
import { readMaskFile, writeMaskFile } from '../masks/mask-file.ts';
import type { Masks } from '../masks/masks.ts';
import { initFeatures } from '../scoring/prune.ts';
import { selectMasks } from '../scoring/select.ts';
import { loadParams } from '../train/checkpoint.ts';
import { parseTrainConfig, type TrainConfig } from '../train/config.ts';
import { train } from '../train/trainer.ts';
import { densityAfterRound, type IrpConfig, rewindEpoch } from './config.ts';
import { writeSurvivalTable } from './table.ts';

export interface RoundSummary {
  round: number;
  density: number;
  test_accuracy: number;
  test_loss: number;
}

export interface IrpResult {
  dir: string;
  skipped: boolean;
  rounds: RoundSummary[];
  dense_test_accuracy: number;
}

const pad = (i: number) => String(i).padStart(2, '0');

function saveFeatures(file: string, f: Features): void {
  const t = new Map<string, SafeTensor>();
  for (const [kind, m] of [
    ['theta', f.theta],
    ['grad', f.grad],
    ['hg', f.hg!],
  ] as const) {
    for (const [name, v] of m) t.set(`${kind}.${name}`, { dtype: 'F32', shape: [v.length], data: v });
  }
  saveSafetensors(file, t, { format: 'pipeline-features-v1' });
}

function loadFeatures(file: string, model: Model): Features {
  const { tensors } = loadSafetensors(file);
  const get = (kind: string) => new Map(model.prunable.map((p) => [p.name, tensors[`${kind}.${p.name}`].data as Float32Array]));
  return { theta: get('theta'), grad: get('grad'), hg: get('hg') };
}

function roundTrainConfig(c: IrpConfig, epochs: number): TrainConfig {
  return parseTrainConfig(
    { model: c.model, width: c.width, batchNorm: c.batchNorm, dataset: c.dataset, dataDir: c.dataDir, padTo: c.padTo, epochs, seed: c.seed, ...c.train },
    'irp config',
  );
}

const cloneParams = (p: ParamMap): ParamMap => Object.fromEntries(Object.entries(p).map(([n, t]) => [n, tf.clone(t)]));

/**
 * Iterative rewind pruning: round 0 scores θ₀, round i > 0 scores the weights trained in round i − 1;
 * each round prunes the surviving weights to its density, rewinds *every* tensor (weights, biases, BN
 * parameters and statistics) to the rewind point (θ₀ or the dense net after K epochs), masks, and
 * trains with a fresh optimizer and schedule. Every step is checkpointed, so a killed run resumes.
 */
export async function runIrp(config: IrpConfig, opts: { out?: string; force?: boolean; backend: BackendInfo; fix?: string }): Promise<IrpResult> {
  const started = new Date();
  const criterion = getCriterion(config.criterion);
  const dataset = loadDataset(config.dataset, { dataDir: config.dataDir, padTo: config.padTo });
  const model = createModel(config.model, {
    width: config.width,
    batchNorm: config.batchNorm,
    inputShape: dataset.train.shape,
    numClasses: dataset.numClasses,
  });
  const identity = { ...config, backend: opts.backend.name };
  const dir = opts.out ?? runDir('runs', 'irp', identity);
  const release = lockRunDir(dir);
  try {
    claimRunDir(dir, identity, 'an IRP run', { force: opts.force, strict: true, fix: opts.fix, inputs: [config.dataDir] });
    if (isFinished(dir)) {
      const summary = readJsonFile(path.join(dir, 'summary.json'), `delete ${path.join(dir, 'DONE')} and rerun to redo the IRP`) as Omit<
        IrpResult,
        'dir' | 'skipped'
      >;
      return { dir, skipped: true, ...summary };
    }
    const hash = configHash(identity);

    const sample = scoringSample(dataset, config.samplesPerClass);
    const data: ScoringBatches = { n: sample.n, chunks: () => sampleChunks(dataset, sample, config.chunkSize ?? sample.n) };
    const theta0 = initParams(model, config.seed);

    const featureFile = path.join(dir, 'features.safetensors');
    if (!fs.existsSync(featureFile)) saveFeatures(featureFile, await initFeatures(model, theta0, data, config.featureBnMode, config.temperature));
    const features = loadFeatures(featureFile, model);

    // Dense baseline (and, for late rewinding, the rewind point after K epochs).
    const k = rewindEpoch(config);
    const rewindFile = path.join(dir, 'dense', 'rewind.safetensors');
    const dense = await train({
      config: roundTrainConfig(config, config.epochsPerRound),
      configHash: `${hash}-dense`,
      model,
      dataset,
      params: cloneParams(theta0),
      outDir: path.join(dir, 'dense'),
      resume: true,
      label: 'irp dense',
      snapshot: k !== null ? { epoch: k, path: rewindFile } : undefined,
    });
    const denseAccuracy = dense.metrics.at(-1)!.test_accuracy;
    tf.dispose(Object.values(dense.params));
    const rewind = k !== null ? loadParams(rewindFile, model) : theta0;

    const survived = new Map(model.prunable.map((p) => [p.name, new Uint8Array(p.size)]));
    const shapes = new Map(model.prunable.map((p) => [p.name, p.shape]));
    let masks: Masks | undefined;
    let scored: ParamMap = theta0;
    let finalScores = new Map<string, Float32Array | Float64Array>();
    const rounds: RoundSummary[] = [];
    for (let i = 0; i < config.rounds; i++) {
      const roundDir = path.join(dir, `round-${pad(i)}`);
      const maskFile = path.join(roundDir, 'masks.arrow');
      const scoreFile = path.join(roundDir, 'scores.safetensors');
      const density = densityAfterRound(config, i);
      if (!fs.existsSync(maskFile)) {
        const { scores } = await criterion.score({
          model,
          params: scored,
          data,
          bnMode: criterion.defaultBnMode,
          masks,
          seed: config.seed,
          round: i,
          temperature: config.temperature,
          options: resolveOptions(criterion),
        });
        const next = selectMasks(model, scores, { density, scope: config.scope ?? 'global', alive: masks, criterion: criterion.name });
        if (i === config.rounds - 1) {
          saveSafetensors(scoreFile, new Map([...scores].map(([n, s]) => [n, { dtype: 'F32' as const, shape: [s.length], data: Float32Array.from(s) }])));
        }
        writeMaskFile(maskFile, next, shapes, { round: i, density });
      }
      masks = readMaskFile(maskFile);
      for (const [name, bits] of masks) {
        const c = survived.get(name)!;
        for (let j = 0; j < bits.length; j++) c[j] += bits[j];
      }
      if (i === config.rounds - 1) {
        const { tensors } = loadSafetensors(scoreFile);
        finalScores = new Map(model.prunable.map((p) => [p.name, tensors[p.name].data as Float32Array]));
      }
      const result = await train({
        config: roundTrainConfig(config, config.epochsPerRound),
        configHash: `${hash}-round-${i}`,
        model,
        dataset,
        params: cloneParams(rewind), // the trainer applies the mask before the first step
        masks,
        outDir: path.join(roundDir, 'train'),
        resume: true,
        label: `irp round ${i + 1}/${config.rounds}`,
      });
      const last = result.metrics.at(-1)!;
      const summary: RoundSummary = { round: i, density, test_accuracy: last.test_accuracy, test_loss: last.test_loss };
      rounds.push(summary);
      if (scored !== theta0) tf.dispose(Object.values(scored));
      scored = result.params;
    }
    if (scored !== theta0) tf.dispose(Object.values(scored));

    const densities = Array.from({ length: config.rounds }, (_, i) => densityAfterRound(config, i));
    const pkg = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8'));
    writeSurvivalTable(path.join(dir, 'survival.arrow'), model, features, survived, finalScores, config.rounds, {
      format: 'pipeline-survival-v1',
      model: model.config.name,
      width: model.config.width,
      dataset: config.dataset,
      pad_to: config.padTo ?? null,
      batch_norm: model.config.batchNorm,
      criterion: criterion.name,
      schedule: config.schedule,
      scope: config.scope ?? 'global',
      densities,
      seed: config.seed,
      backend: opts.backend.name,
      package_version: pkg.version,
      feature_bn_mode: config.featureBnMode,
      temperature: config.temperature,
      samples_per_class: config.samplesPerClass,
      rewind: config.rewind,
    });
    const summary = { rounds, dense_test_accuracy: denseAccuracy };
    writeJsonAtomic(path.join(dir, 'summary.json'), summary);
    writeManifest(dir, {
      command: 'irp',
      config,
      resolved: { ...identity, out: dir, densities },
      backend: opts.backend,
      timings: { seconds: (Date.now() - started.getTime()) / 1000 },
      startedAt: started,
    });
    markFinished(dir);
    if (rewind !== theta0) tf.dispose(Object.values(rewind));
    tf.dispose(Object.values(theta0));
    return { dir, skipped: false, ...summary };
  } finally {
    release();
  }
}
