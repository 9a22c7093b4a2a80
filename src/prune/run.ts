import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { checkPruneConfig } from './config-schema.ts';
import { readPruneReport } from './report-file.ts';
import type { BackendInfo } from '../engine/backend.ts';
import { makeDirs, writeJsonAtomic } from '../io/atomic.ts';
import { writeManifest } from '../io/manifest.ts';
import { checkRunDir, configHash, emptyRunDir, isFinished, markFinished, recordRunConfig, relocatable, runDir } from '../io/rundir.ts';
import { lockRunDir } from '../io/run-lock.ts';
import { writeMaskFile } from '../masks/mask-file.ts';
import { keptCount, type Masks } from '../masks/masks.ts';
import { initParams, type Model, type ParamMap } from '../models/index.ts';
import { train } from '../train/trainer.ts';
import type { KeyNames } from '../util/config-errors.ts';
import type { LayerReport, PruneConfig, PruneReport } from './config.ts';
import { disconnectedWeights } from '../scoring/connectivity.ts';
import { defaultAllocationOf, getCriterion, resolveOptions } from '../scoring/criteria/index.ts';
import { densePhase } from './dense-phase.ts';
import { type Features, gradientNorm } from '../scoring/features.ts';
import { layerAllocator } from './layer-allocation.ts';
import { type Prepared, preparePrune } from './prepare.ts';
import { initFeatures, prune } from '../scoring/prune.ts';
import { writeScoreTable } from '../scoring/score-table.ts';
import type { Scores } from '../scoring/select.ts';
import type { StructuredCriterion } from '../scoring/channels/channel-scores.ts';
import { type StructuredReport, structuredStage } from './structured/stage.ts';

/** The network that trains after pruning: the masked dense model, or (--structured) the shrunk one. */
interface PrunedNet {
  model: Model;
  params: ParamMap;
  masks?: Masks;
  scores?: Scores;
  features?: Features;
  rounds: number;
  structured?: StructuredReport;
  reconnected?: { dropped: number; left: number };
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
    allocate: layerAllocator(config, prepared, theta0),
    minLayerDensity: config.minLayerDensity,
    iterations: config.iterations,
    reconnect: config.reconnect,
    bnMode,
    seed: config.seed,
    temperature: config.temperature,
    table: config.table,
    autos: config.autos,
    options: config.criterionOptions,
  });
  return {
    model,
    params: scored,
    masks: result.masks,
    scores: result.scores,
    features: result.features,
    rounds: result.rounds,
    reconnected: result.reconnected,
  };
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
    /** The sweep's or run's --out this job lies in: inputs inside it are named relative to it in the job's identity (relocatable). */
    root?: string;
    force?: boolean;
    backend: BackendInfo;
    plot?: (dir: string, report: PruneReport) => Promise<void>;
    /** How long to wait for the directory's lock while a live process holds it (a worker of a killed run, exiting). */
    lockWaitMs?: number;
    /** How input errors name the config's keys: as keys (default) or, from the CLI, as its flags. */
    names?: KeyNames;
  },
): Promise<PruneRunResult> {
  const started = new Date();
  checkPruneConfig(config, opts.names ? '' : 'prune config', opts.names);
  const prepared = preparePrune(config);
  const { model, dataset, data, bnMode } = prepared;
  const criterion = getCriterion(config.criterion);
  const options = resolveOptions(criterion, config.criterionOptions);
  const initSeed = criterion.initSeed?.(config) ?? config.seed;
  // A job whose θ₀ is not its seed's says so in its hash (and report): the same flags meant another init before.
  const identity = relocatable({ ...config, bnMode, backend: opts.backend.name, ...(initSeed !== config.seed ? { initSeed } : {}) }, opts.root);
  const dir = opts.out ?? runDir('runs', `prune-${config.criterion}`, identity);
  const release = lockRunDir(dir, { waitMs: opts.lockWaitMs });
  try {
    if (!opts.force) checkRunDir(dir, identity, 'a prune run');
    if (isFinished(dir) && !opts.force) {
      return { dir, skipped: true, report: readPruneReport(dir) };
    }
    const theta0 = initParams(model, initSeed);
    if (opts.force) emptyRunDir(dir, [config.table, config.autos, config.dataDir]);
    const dense = await densePhase(config, prepared, theta0, dir, identity);
    const scored = dense?.params ?? theta0;
    const t0 = performance.now();
    const pruned = config.structured ? await structuredNet(config, prepared, scored, dir) : await unstructuredNet(config, prepared, scored, theta0);
    const scoreSeconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const gradNormRatio = data
      ? (await gradientNorm(pruned.model, pruned.params, data, bnMode, pruned.masks)) / (await gradientNorm(model, scored, data, bnMode))
      : null;
    const gradNormSeconds = (performance.now() - t1) / 1000;
    // reconnect() already counted what it left disconnected.
    const disconnected = pruned.masks ? (pruned.reconnected?.left ?? keptCount(await disconnectedWeights(model, scored, pruned.masks))) : 0;
    const effective = pruned.masks ? keptCount(pruned.masks) - disconnected : undefined;
    const features = config.dumpScores
      ? pruned.features?.hg
        ? pruned.features
        : await initFeatures(model, scored, data!, bnMode, config.temperature)
      : undefined;
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
      ...(Object.keys(options).length ? { criterion_options: options } : {}),
      reconnect: pruned.reconnected !== undefined,
      ...(pruned.reconnected ? { reconnect_dropped: pruned.reconnected.dropped, reconnect_left: pruned.reconnected.left } : {}),
      ...(effective !== undefined ? { effective_density: effective / layers.reduce((n, l) => n + l.size, 0) } : {}),
      bn_mode: bnMode,
      samples_per_class: data ? config.samplesPerClass : null,
      seed: config.seed,
      init_seed: initSeed,
      layers,
      min_layer_kept: fewest.kept,
      min_layer: fewest.name,
      signal_floor: !config.structured && (Boolean(config.signalFloor) || config.allocation === 'learned'),
      grad_norm_ratio: gradNormRatio,
      pruned_at_epoch: dense?.epochs ?? 0,
      structured: pruned.structured,
      seconds: { score: scoreSeconds, grad_norm: gradNormSeconds },
    };

    makeDirs(dir);
    if (pruned.masks) {
      const shapes = new Map(model.prunable.map((p) => [p.name, p.shape]));
      writeMaskFile(path.join(dir, 'masks.arrow'), pruned.masks, shapes, {
        criterion: criterion.name,
        model: model.config.name,
        width: model.config.width,
        density,
      });
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
      const t2 = performance.now();
      const trained = await train({
        config: dense ? { ...config.train, epochs: config.train.epochs - dense.epochs } : config.train,
        configHash: configHash({ ...identity, train: config.train }),
        model: pruned.model,
        // checkPruneConfig refused `train` with dataset 'none'.
        dataset: dataset!,
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
      resolved: { ...config, bnMode, iterations: pruned.rounds, reconnect: pruned.reconnected !== undefined, out: dir },
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
