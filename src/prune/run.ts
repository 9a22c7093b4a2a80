import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadDataset } from '../data/registry.ts';
import { sampleChunks, scoringSample } from '../data/scoring-sample.ts';
import type { Dataset } from '../data/types.ts';
import type { BackendInfo } from '../engine/backend.ts';
import { writeJsonAtomic } from '../io/atomic.ts';
import { writeManifest } from '../io/manifest.ts';
import { checkRunDir, configHash, emptyRunDir, isFinished, markFinished, recordRunConfig, runDir } from '../io/rundir.ts';
import { lockRunDir } from '../io/run-lock.ts';
import { loadSafetensors } from '../io/safetensors.ts';
import { createModel, initParams, type Model, type ParamMap } from '../models/index.ts';
import type { TrainConfig } from '../train/config.ts';
import { train } from '../train/trainer.ts';
import { plateauEpoch, relativeDistance } from './early.ts';
import { usage } from '../util/errors.ts';
import { CRITERIA, defaultAllocationOf, getCriterion } from './criteria/index.ts';
import { type BnMode, type Features, gradientNorm, type ScoringBatches } from './features.ts';
import { writeMaskFile } from './mask-file.ts';
import type { Masks } from './masks.ts';
import { countsFromShares, checkAllocation, checkSignalFloor, erkCounts } from './allocation.ts';
import { initFeatures, prune, type PruneRequest } from './prune.ts';
import { loadAutos } from '../autos/model-file.ts';
import { layerInfoOfModel, loadAllocation, predictDensities } from '../autos/allocation-model.ts';
import type { FeatureName } from '../autos/features.ts';
import { writeScoreTable } from './score-table.ts';
import type { Scope, Scores } from './select.ts';
import type { StructuredCriterion } from './structured/channel-scores.ts';
import { checkStructured, type StructuredReport, structuredStage } from './structured/stage.ts';

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
  minLayerDensity?: number;
  temperature: number;
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
   * per-layer counts). Default global.
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
  bn_mode: BnMode;
  samples_per_class: number | null;
  seed: number;
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

interface Prepared {
  model: Model;
  dataset?: Dataset;
  data?: ScoringBatches;
  bnMode: BnMode;
}

/** Checks everything about the request before any output exists. */
export function preparePrune(config: PruneConfig): Prepared {
  const criterion = getCriterion(config.criterion);
  if (!(config.density > 0 && config.density <= 1)) usage(`density ${config.density} is outside (0, 1]: pass --density in (0, 1] or --sparsity in [0, 1)`);
  if (config.minLayerDensity !== undefined && !(config.minLayerDensity >= 0 && config.minLayerDensity <= 1)) {
    usage(`--min-layer-density ${config.minLayerDensity} is outside [0, 1]`);
  }
  if (criterion.name === 'lottery' && !config.table) usage("criterion 'lottery' needs --table <survival.arrow> from 'pipeline irp'");
  let bnDefault = criterion.defaultBnMode;
  if (criterion.name === 'autos') {
    if (!config.autos) usage("criterion 'autos' needs --autos <model dir> from 'pipeline fit-autos'");
    bnDefault = loadAutos(config.autos, config.autosFeatures).meta.feature_bn_mode;
  }
  const when = config.when ?? 'init';
  if (!/^(init|early|epoch:\d+)$/.test(when)) usage(`--when must be init, early or epoch:K, got '${when}'`);
  if (when !== 'init') {
    if (!config.train) usage(`--when ${when} trains before pruning: add --train`);
    const k = when === 'early' ? (config.earlyMaxEpochs ?? config.train.epochs - 1) : Number(when.slice(6));
    if (!(k >= 1 && k < config.train.epochs)) usage(`--when ${when} must prune after 1 to ${config.train.epochs - 1} dense epochs of the ${config.train.epochs} trained; adjust --epochs or --when`);
  }
  const allocation = config.allocation ?? defaultAllocationOf(config.criterion);
  checkAllocation(allocation, Object.keys(CRITERIA));
  if (!config.structured && allocation === 'survival' && criterion.name !== 'autos') usage("--allocation survival needs --criterion autos (it allocates by AutoS's predicted survival)");
  if (!config.structured && allocation === 'learned') {
    if (!config.autos) usage("--allocation learned needs --autos <model dir> from 'pipeline fit-autos' (its allocation.json)");
    loadAllocation(config.autos);
  }

  if (config.table && !fs.existsSync(config.table)) usage(`survival table ${config.table} not found: run 'pipeline irp' first`);
  let dataset: Dataset | undefined;
  if (config.dataset === 'none') {
    if (criterion.needsData) usage(`criterion '${criterion.name}' needs scoring data but --dataset none was given: pass a dataset (e.g. --dataset mnist)`);
    if (config.dumpScores) usage('--dump-scores writes g and Hg, which need scoring data, but --dataset none was given: pass a dataset (e.g. --dataset mnist) or drop --dump-scores');
  } else {
    dataset = loadDataset(config.dataset, { dataDir: config.dataDir, padTo: config.padTo });
  }
  const model = createModel(config.model, {
    width: config.width,
    batchNorm: config.batchNorm,
    inputShape: dataset?.train.shape ?? config.inputShape,
    numClasses: dataset?.numClasses ?? config.numClasses,
  });
  if (config.signalFloor && (allocation === 'global' || config.structured)) usage('--signal-floor applies to a layer allocation: add --allocation (layer, erk, learned, survival or a criterion)');
  if (!config.structured && (config.signalFloor || allocation === 'learned')) checkSignalFloor(model, config.density, `--allocation ${allocation}`);
  if (config.structured) {
    checkStructured(model, criterion.name, config.density, config);
    if (config.dumpScores) usage('--dump-scores writes per-weight scores; with --structured the channel choice is in channels.json: drop --dump-scores');
  }
  let data: ScoringBatches | undefined;
  if (dataset) {
    const sample = scoringSample(dataset, config.samplesPerClass);
    const chunk = config.chunkSize ?? sample.n;
    data = { n: sample.n, chunks: () => sampleChunks(dataset, sample, chunk) };
  }
  return { model, dataset, data, bnMode: config.bnMode ?? bnDefault };
}

/** The per-round layer-allocation hook for prune(), or undefined for plain global/layer scope. */
function allocator(config: PruneConfig, prepared: Prepared, theta0: ParamMap): PruneRequest['allocate'] {
  const { model } = prepared;
  const allocation = config.allocation ?? defaultAllocationOf(config.criterion);
  const floor = Boolean(config.signalFloor) || allocation === 'learned';
  if (allocation === 'global') return undefined;
  if (allocation === 'layer') return floor ? (_scores, density) => countsFromShares(model, density, (i) => model.prunable[i].size, { floor }) : undefined;
  if (allocation === 'erk') return (_scores, density) => erkCounts(model, density, { floor });
  if (allocation === 'learned') {
    const fit = loadAllocation(config.autos!);
    const layers = layerInfoOfModel(model);
    return (_scores, density) => {
      const d = predictDensities(fit, layers, density);
      return countsFromShares(model, density, (i) => model.prunable[i].size * d[i], { floor });
    };
  }
  if (allocation === 'survival') {
    return (scores, density) =>
      countsFromShares(
        model,
        density,
        (i) => {
          const s = scores.get(model.prunable[i].name)!;
          let sum = 0;
          for (let j = 0; j < s.length; j++) sum += Math.max(0, s[j]);
          return sum; // size × mean predicted survival
        },
        { floor },
      );
  }
  const other = getCriterion(allocation);
  return async (_scores, density) => {
    const { masks } = await prune({
      criterion: other,
      model,
      params: theta0,
      data: prepared.data,
      density,
      scope: 'global',
      bnMode: config.bnMode ?? other.defaultBnMode,
      seed: config.seed,
      temperature: config.temperature,
    });
    const counts = new Map([...masks].map(([n, bits]) => [n, bits.reduce((a, b) => a + b, 0)]));
    return floor ? countsFromShares(model, density, (i) => counts.get(model.prunable[i].name)!, { floor }) : counts;
  };
}

/**
 * Dense training before pruning (--when epoch:K | early), in <dir>/dense, resumable: the epoch-1
 * weights, the distance sequence and the trigger decision are kept on disk. Returns the weights to
 * score and how many epochs they trained, or undefined for pruning at initialization.
 */
async function densePhase(config: PruneConfig, prepared: Prepared, theta0: ParamMap, dir: string, identity: object): Promise<{ params: ParamMap; epochs: number } | undefined> {
  const when = config.when ?? 'init';
  if (when === 'init') return undefined;
  const recipe = config.train!;
  const denseDir = path.join(dir, 'dense');
  const decisionFile = path.join(denseDir, 'pruned_at.json');
  const distanceFile = path.join(denseDir, 'distances.json');
  const firstFile = path.join(denseDir, 'epoch1.safetensors');
  const cap = when === 'early' ? (config.earlyMaxEpochs ?? recipe.epochs - 1) : Number(when.slice(6));
  const decided = fs.existsSync(decisionFile) ? (JSON.parse(fs.readFileSync(decisionFile, 'utf8')).epoch as number) : undefined;
  const names = prepared.model.prunable.map((p) => p.name);
  const distances: number[] = fs.existsSync(distanceFile) ? JSON.parse(fs.readFileSync(distanceFile, 'utf8')) : [];
  let first: Float32Array[] | undefined;
  fs.mkdirSync(denseDir, { recursive: true });
  const run = await train({
    // Same config hash whatever the stopping epoch, so a resumed run finds its checkpoint.
    config: { ...recipe, epochs: decided ?? cap },
    configHash: configHash({ ...identity, phase: 'dense' }),
    model: prepared.model,
    dataset: prepared.dataset!,
    params: Object.fromEntries(Object.entries(theta0).map(([n, t]) => [n, tf.clone(t)])),
    outDir: denseDir,
    resume: true,
    label: `dense before pruning (${when})`,
    snapshot: when === 'early' ? { epoch: 1, path: firstFile } : undefined,
    onEpoch: async (m, params) => {
      if (when !== 'early') return undefined;
      const w = (await Promise.all(names.map((n) => params[n].data()))) as Float32Array[];
      first ??= m.epoch === 1 ? w.map((a) => a.slice()) : names.map((n) => loadSafetensors(firstFile).tensors[n].data as Float32Array);
      distances.push(relativeDistance(w, first));
      writeJsonAtomic(distanceFile, distances);
      const t = plateauEpoch(distances, config.density, cap);
      if (t === null) return undefined;
      writeJsonAtomic(decisionFile, { epoch: t, distances });
      return 'stop';
    },
  });
  return { params: run.params, epochs: run.metrics.length };
}

/** The network that trains after pruning: the masked dense model, or (--structured) the shrunk one. */
interface PrunedNet {
  model: Model;
  params: ParamMap;
  masks?: Masks;
  scores?: Scores;
  features?: Features;
  rounds: number;
  structured?: StructuredReport;
}

async function unstructuredNet(config: PruneConfig, prepared: Prepared, scored: ParamMap, theta0: ParamMap): Promise<PrunedNet> {
  const { model, data, bnMode } = prepared;
  const result = await prune({
    criterion: getCriterion(config.criterion),
    model,
    params: scored,
    data,
    density: config.density,
    scope: config.allocation === 'layer' ? 'layer' : config.scope,
    allocate: allocator(config, prepared, theta0),
    minLayerDensity: config.minLayerDensity,
    iterations: config.iterations,
    bnMode,
    seed: config.seed,
    temperature: config.temperature,
    table: config.table,
    autos: config.autos,
  });
  return { model, params: scored, masks: result.masks, scores: result.scores, features: result.features, rounds: result.rounds };
}

async function structuredNet(config: PruneConfig, prepared: Prepared, scored: ParamMap, dir: string): Promise<PrunedNet> {
  const criterion = getCriterion(config.criterion);
  const s = await structuredStage({
    model: prepared.model,
    params: scored,
    data: prepared.data,
    criterion: criterion.name as StructuredCriterion,
    density: config.density,
    iterations: config.iterations ?? criterion.defaultIterations,
    bnMode: prepared.bnMode,
    seed: config.seed,
    batch: config.train?.batchSize ?? 32,
    dir,
  });
  return { model: s.model, params: s.params, rounds: s.rounds, structured: s.report };
}

export interface PruneRunResult {
  dir: string;
  skipped: boolean;
  report: PruneReport;
}

/** `pipeline prune`: masks.arrow, report.json, (scores.arrow), (train/), manifest.json in a hashed directory. */
export async function runPrune(
  config: PruneConfig,
  opts: {
    out?: string;
    force?: boolean;
    backend: BackendInfo;
    plot?: (dir: string, report: PruneReport) => Promise<void>;
    /** How long to wait for the directory's lock while a live process holds it (a worker of a killed run, exiting). */
    lockWaitMs?: number;
  },
): Promise<PruneRunResult> {
  const started = new Date();
  const prepared = preparePrune(config);
  const { model, dataset, data, bnMode } = prepared;
  const identity = { ...config, bnMode, backend: opts.backend.name };
  const dir = opts.out ?? runDir('runs', `prune-${config.criterion}`, identity);
  const release = lockRunDir(dir, { waitMs: opts.lockWaitMs });
  try {
    if (!opts.force) checkRunDir(dir, identity, 'a prune run');
    if (isFinished(dir) && !opts.force) {
      return { dir, skipped: true, report: JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) };
    }
    const criterion = getCriterion(config.criterion);
    const theta0 = initParams(model, config.seed);
    if (opts.force) emptyRunDir(dir);
    const dense = await densePhase(config, prepared, theta0, dir, identity);
    const scored = dense?.params ?? theta0;
    const t0 = performance.now();
    const pruned = config.structured
      ? await structuredNet(config, prepared, scored, dir)
      : await unstructuredNet(config, prepared, scored, theta0);
    const scoreSeconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const gradNormRatio = data ? (await gradientNorm(pruned.model, pruned.params, data, bnMode, pruned.masks)) / (await gradientNorm(model, scored, data, bnMode)) : null;
    const gradNormSeconds = (performance.now() - t1) / 1000;
    const features = config.dumpScores ? (pruned.features?.hg ? pruned.features : await initFeatures(model, scored, data!, bnMode, config.temperature)) : undefined;
    if (pruned.params !== scored) tf.dispose(Object.values(scored));

    const layers: LayerReport[] = model.prunable.map((p) => {
      const kept = pruned.masks ? pruned.masks.get(p.name)!.reduce((a, b) => a + b, 0) : pruned.model.prunable.find((q) => q.name === p.name)!.size;
      return { name: p.name, size: p.size, kept, density: kept / p.size };
    });
    const density = layers.reduce((n, l) => n + l.kept, 0) / layers.reduce((n, l) => n + l.size, 0);
    const fewest = layers.reduce((m, l) => (l.kept < m.kept ? l : m), layers[0]);
    const report: PruneReport = {
      criterion: criterion.name,
      model: model.config.name,
      width: model.config.width,
      dataset: config.dataset,
      density,
      target_density: config.density,
      sparsity: 1 - density,
      scope: config.allocation === 'layer' ? 'layer' : config.scope,
      allocation: config.allocation ?? defaultAllocationOf(config.criterion),
      iterations: pruned.rounds,
      bn_mode: bnMode,
      samples_per_class: data ? config.samplesPerClass : null,
      seed: config.seed,
      layers,
      min_layer_kept: fewest.kept,
      min_layer: fewest.name,
      signal_floor: !config.structured && (Boolean(config.signalFloor) || config.allocation === 'learned'),
      grad_norm_ratio: gradNormRatio,
      pruned_at_epoch: dense?.epochs ?? 0,
      structured: pruned.structured,
      seconds: { score: scoreSeconds, grad_norm: gradNormSeconds },
    };

    fs.mkdirSync(dir, { recursive: true });
    if (pruned.masks) {
      const shapes = new Map(model.prunable.map((p) => [p.name, p.shape]));
      writeMaskFile(path.join(dir, 'masks.arrow'), pruned.masks, shapes, { criterion: criterion.name, model: model.config.name, width: model.config.width, density });
    }
    if (features) {
      writeScoreTable(path.join(dir, 'scores.arrow'), model, features, pruned.scores!, pruned.masks!, {
        criterion: criterion.name,
        model: model.config.name,
        width: model.config.width,
        dataset: config.dataset,
        bn_mode: bnMode,
        temperature: config.temperature,
        seed: config.seed,
      });
    }
    if (config.train) {
      if (!dataset) usage('--train needs a dataset: pass --dataset');
      const t2 = performance.now();
      const trained = await train({
        config: dense ? { ...config.train, epochs: config.train.epochs - dense.epochs } : config.train,
        configHash: configHash({ ...identity, train: config.train }),
        model: pruned.model,
        dataset,
        params: pruned.params,
        masks: pruned.masks,
        outDir: path.join(dir, 'train'),
        resume: true,
        label: `train ${criterion.name} ${(100 * density).toFixed(2)}%`,
      });
      const final = trained.metrics.at(-1)!;
      report.test_accuracy = final.test_accuracy;
      report.test_loss = final.test_loss;
      report.seconds.train = (performance.now() - t2) / 1000;
      tf.dispose(Object.values(trained.params));
    } else {
      tf.dispose(Object.values(pruned.params));
    }
    if (scored !== theta0) tf.dispose(Object.values(theta0));
    if (opts.plot) await opts.plot(dir, report);
    writeJsonAtomic(path.join(dir, 'report.json'), report);
    writeManifest(dir, {
      command: 'prune',
      config,
      resolved: { ...config, bnMode, iterations: pruned.rounds, out: dir },
      backend: opts.backend,
      timings: report.seconds,
      startedAt: started,
    });
    recordRunConfig(dir, identity);
    markFinished(dir);
    return { dir, skipped: false, report };
  } finally {
    release();
  }
}
