import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { makeDirs, writeJsonAtomic } from '../io/atomic.ts';
import type { KeyNames } from '../util/config-errors.ts';
import { usage } from '../util/errors.ts';
import { createProgress } from '../util/progress.ts';
import { Rng } from '../util/rng.ts';
import { type FeatureName, featureMatrix, needsContext, needsFlow, needsHg, networkContext, percentiles } from '../scoring/autos/features.ts';
import { rankingMetrics, type RankingMetrics } from '../scoring/autos/metrics.ts';
import { type AutosMeta, saveAutos } from '../scoring/autos/model-file.ts';
import { initScorer, scoreRows, scorerForward, type ScorerSpec, type ScorerWeights } from '../scoring/autos/scorer.ts';
import { CURVES_FILE, HANDCRAFTED_SCORES, predictionCurves, type SurvivalCurve, survivalCurves } from './survival-curves.ts';
import { attachSynflow, readSurvivalSource, type SourceTable, type SourceTensor } from '../scoring/autos/source.ts';
import {
  ALLOCATION_FORMAT,
  type AllocationError,
  type AllocationFeature,
  allocationError,
  architectureOf,
  CLIP,
  DEFAULT_ALLOCATION_FEATURES,
  DEFAULT_ALLOCATION_LAMBDA,
  densityCurve,
  fitAllocation,
  leaveOneArchitectureOut,
  meanError,
  saveAllocation,
} from '../scoring/autos/allocation-model.ts';
import { checkFitConfig } from './fit-config-schema.ts';
import { withRunLock } from '../io/run-lock.ts';
import { yieldToEventLoop } from '../util/yield.ts';

export interface FitConfig {
  tables: string[];
  /** Validate on this whole table instead of held-out tensors. */
  valTable?: string;
  /** Tensor names held out for validation (default: every third tensor of each table, from the second). */
  holdout?: string[];
  features: FeatureName[];
  hidden: number[];
  activation: 'relu' | 'tanh';
  loss: 'mse' | 'rank';
  /**
   * Regression target: 'survival' = rounds_survived / E (the reference); 'rank' = its percentile within the
   * tensor (ties averaged), so every tensor contributes the same spread whatever its final density.
   */
  target?: 'survival' | 'rank';
  lr: number;
  batchSize: number;
  epochs: number;
  seed: number;
  /** Training rows drawn per tensor at most (uniformly, seeded); validation uses every row. */
  maxRowsPerTensor: number;
  /** Also fit on shuffled labels and report it (a control the real fit must beat). */
  control: boolean;
  /**
   * Architectures (table metadata `model`, or `model-w<width>`) to validate on, fitting on the others. Without
   * it, --holdout or --val-table, tables of ≥ 2 architectures are validated leave-one-architecture-out.
   */
  holdoutArch?: string[];
  /** Descriptors of the learned layer-allocation model (default DEFAULT_ALLOCATION_FEATURES). */
  allocationFeatures?: AllocationFeature[];
  /** Its ridge λ (default DEFAULT_ALLOCATION_LAMBDA). */
  allocationLambda?: number;
}

/** Held-out metrics of one architecture (scorer fitted without it). */
/** AutoS's ranking of true survival beside the handcrafted scores at θ₀ on the same tensors. */
export interface BaselineMetrics {
  autos: RankingMetrics;
  /** |θ₀| */
  magnitude: RankingMetrics;
  /** |θ₀ · g| (SNIP) */
  snip: RankingMetrics;
  /** θ₀ · Hg (GraSP's keep-score), when every table has Hg */
  grasp?: RankingMetrics;
}

export interface ArchitectureMetrics extends BaselineMetrics {
  train_tables: string[];
  validation_tables: string[];
  shuffled_control?: RankingMetrics;
  /** The allocation model's error on this architecture, fitted without it. */
  allocation: AllocationError;
}

export interface FitMetrics extends BaselineMetrics {
  /**
   * tensors: held-out tensors (--holdout or every third); table: --val-table; architectures: --holdout-arch;
   * leave-one-architecture-out: each architecture scored by a fit on the others (autos/magnitude are then
   * means over architectures, and the saved scorer is fitted on every table).
   */
  validation: 'tensors' | 'table' | 'architectures' | 'leave-one-architecture-out';
  architectures: string[];
  train_rows: number;
  /** Features constant on every training row (e.g. `kind` when fitting on MLPs only): folded into the bias, ignored when scoring. */
  constant_features: string[];
  train_tensors: string[];
  validation_tensors: string[];
  shuffled_control?: RankingMetrics;
  per_architecture?: Record<string, ArchitectureMetrics>;
  /** The learned layer allocation (allocation.json): its features, λ and held-out error per architecture. */
  allocation: { features: AllocationFeature[]; lambda: number; held_out: Record<string, AllocationError>; train_error: AllocationError };
  seconds: number;
}

interface Rows {
  x: Float32Array;
  y: Float32Array;
  n: number;
}

async function rowsOf(tensors: SourceTensor[], features: FeatureName[], cap: number, rng: Rng, target: FitConfig['target'] = 'survival'): Promise<Rows> {
  const f = features.length;
  const picks = tensors.map((t) => {
    const n = t.theta.length;
    if (n <= cap) return Int32Array.from({ length: n }, (_, i) => i);
    return rng.permutation(n).slice(0, cap).sort();
  });
  const total = picks.reduce((s, p) => s + p.length, 0);
  const x = new Float32Array(total * f);
  const y = new Float32Array(total);
  let o = 0;
  for (const [ti, t] of tensors.entries()) {
    await yieldToEventLoop();
    const m = featureMatrix(t, t.layer, features, t.context);
    const label = target === 'rank' ? percentiles(t.y) : t.y;
    for (const i of picks[ti]) {
      x.set(m.subarray(i * f, (i + 1) * f), o * f);
      y[o++] = label[i];
    }
  }
  return { x, y, n: total };
}

async function train(spec: ScorerSpec, rows: Rows, config: FitConfig, seed: number, label: string): Promise<ScorerWeights> {
  const init = initScorer(spec, seed);
  const vars = init.map(({ w, b }) => ({ w: tf.variable(w), b: tf.variable(b) }));
  tf.dispose(init.flatMap(({ w, b }) => [w, b]));
  const opt = tf.train.adam(config.lr);
  const rng = new Rng(seed).fork(1);
  const f = spec.inputs;
  const steps = Math.ceil(rows.n / config.batchSize);
  const progress = createProgress({ total: config.epochs * steps, label, unit: 'batch' });
  for (let e = 0; e < config.epochs; e++) {
    const order = rng.permutation(rows.n);
    for (let s = 0; s < steps; s++) {
      const idx = order.subarray(s * config.batchSize, Math.min(rows.n, (s + 1) * config.batchSize));
      const bx = new Float32Array(idx.length * f);
      const by = new Float32Array(idx.length);
      idx.forEach((r, i) => {
        bx.set(rows.x.subarray(r * f, (r + 1) * f), i * f);
        by[i] = rows.y[r];
      });
      const loss = opt.minimize(() => {
        const pred = scorerForward(spec, vars as unknown as ScorerWeights, tf.tensor2d(bx, [idx.length, f]));
        const y = tf.tensor1d(by);
        if (config.loss === 'mse') return tf.mean(tf.square(tf.sub(pred, y))) as tf.Scalar;
        // Pairwise logistic ranking loss on the batch's two halves, pairs with different labels only.
        const h = Math.floor(idx.length / 2);
        const dp = tf.sub(pred.slice(0, h), pred.slice(h, h));
        const dy = tf.sign(tf.sub(y.slice(0, h), y.slice(h, h)));
        const w = tf.abs(dy);
        return tf.div(tf.sum(tf.mul(tf.softplus(tf.neg(tf.mul(dp, dy))), w)), tf.maximum(tf.sum(w), 1)) as tf.Scalar;
      }, true);
      loss?.dispose();
      progress.update(e * steps + s + 1, { epoch: `${e + 1}/${config.epochs}` });
      if (s % 4 === 3) await yieldToEventLoop();
    }
  }
  progress.stop();
  opt.dispose();
  return vars.map(({ w, b }) => ({ w: w as unknown as tf.Tensor2D, b: b as unknown as tf.Tensor1D }));
}

/** Indices and values of the feature columns that take a single value over all training rows. */
function constantColumns(rows: Rows, f: number): Array<{ j: number; value: number }> {
  const out: Array<{ j: number; value: number }> = [];
  for (let j = 0; j < f; j++) {
    const v = rows.x[j];
    let same = true;
    for (let r = 1; r < rows.n && same; r++) same = rows.x[r * f + j] === v;
    if (same) out.push({ j, value: v });
  }
  return out;
}

/**
 * A feature that never varied in training carries no learned meaning: its first-layer weights are either
 * untouched random init (value 0: no gradient ever) or an alias of the bias. Fold w·value into the bias
 * and zero the weights, so predictions on the training rows are unchanged and a new network on which the
 * feature differs (a conv tensor after fitting on MLPs) gets no random, seed-dependent shift from it.
 */
async function foldConstantFeatures(weights: ScorerWeights, constant: Array<{ j: number; value: number }>): Promise<ScorerWeights> {
  if (!constant.length) return weights;
  const { w, b } = weights[0];
  const [fin, fout] = w.shape;
  const [wv, bv] = (await Promise.all([w.data(), b.data()])).map((v) => Float32Array.from(v));
  for (const { j, value } of constant) {
    for (let o = 0; o < fout; o++) {
      bv[o] += value * wv[j * fout + o];
      wv[j * fout + o] = 0;
    }
  }
  tf.dispose([w, b]);
  return [{ w: tf.tensor2d(wv, [fin, fout]), b: tf.tensor1d(bv) }, ...weights.slice(1)];
}

async function predict(spec: ScorerSpec, weights: ScorerWeights, tensors: SourceTensor[], features: FeatureName[]): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (const t of tensors) {
    await yieldToEventLoop();
    parts.push(await scoreRows(spec, weights, featureMatrix(t, t.layer, features, t.context)));
  }
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** |θ₀|, |θ₀·g| and θ₀·Hg ranking the same tensors' survival. */
function handcrafted(tensors: SourceTensor[], truth: Float32Array, extra: number[]): Omit<BaselineMetrics, 'autos'> {
  const of = (f: (t: SourceTensor, i: number) => number) =>
    rankingMetrics(
      concatY(tensors, (t) => Float32Array.from(t.theta, (_, i) => f(t, i))),
      truth,
      extra,
      sizesOf(tensors),
    );
  const { magnitude, snip, grasp } = HANDCRAFTED_SCORES;
  return {
    magnitude: of(magnitude.score),
    snip: of(snip.score),
    ...(tensors.every((t) => t.hg) ? { grasp: of(grasp.score) } : {}),
  };
}

const sizesOf = (tensors: SourceTensor[]) => tensors.map((t) => t.y.length);

const withoutPredictions = <T extends { predicted: Float32Array }>({ predicted: _, ...rest }: T) => rest;

const concatY = (tensors: SourceTensor[], f: (t: SourceTensor) => ArrayLike<number>) => Float32Array.from(tensors.flatMap((t) => Array.from(f(t))));

/**
 * `pipeline fit-autos`: fits the scorer into `outDir` (holding the directory's lock), validates on
 * held-out tensors, writes the model and metrics.json. The config is checked first (FitConfigSchema),
 * its errors naming keys, or the CLI's flags when it passes `names`.
 */
export function fitAutos(config: FitConfig, outDir: string, names?: KeyNames): Promise<FitMetrics> {
  checkFitConfig(config, names ? '' : 'fit config', names);
  return withRunLock(outDir, () => fitAutosIn(config, outDir));
}

const finalDensityOf = (table: SourceTable): number[] => {
  const d = JSON.parse(table.metadata.get('densities') ?? '[]') as number[];
  return d.length ? [d[d.length - 1]] : [];
};

/** Field-wise mean of ranking metrics (precision at the densities every one of them has). */
function meanRanking(ms: RankingMetrics[]): RankingMetrics {
  const mean = (f: (m: RankingMetrics) => number) => ms.reduce((s, m) => s + f(m), 0) / ms.length;
  const keys = Object.keys(ms[0].precision).filter((k) => ms.every((m) => k in m.precision));
  return {
    n: ms.reduce((s, m) => s + m.n, 0),
    mse: mean((m) => m.mse),
    spearman: mean((m) => m.spearman),
    ...(ms.every((m) => m.tensor_spearman !== undefined) ? { tensor_spearman: mean((m) => m.tensor_spearman!) } : {}),
    precision: Object.fromEntries(keys.map((k) => [k, mean((m) => m.precision[k])])),
  };
}

const tensorNames = (set: SourceTensor[]) => set.map((t) => `${path.basename(t.source)}:${t.layer.name}`);

/** Does an architecture key (`lenet5-w1`) match a --holdout-arch name (`lenet5` or `lenet5-w1`)? */
const archMatches = (arch: string, name: string) => arch === name || arch.startsWith(`${name}-w`);

async function fitAutosIn(config: FitConfig, outDir: string): Promise<FitMetrics> {
  const started = performance.now();
  const hg = needsHg(config.features);
  const tables: SourceTable[] = [];
  for (const t of config.tables) tables.push(await readSurvivalSource(t, hg));
  const val = config.valTable ? await readSurvivalSource(config.valTable, hg) : undefined;
  const everyTable = val ? [...tables, val] : tables;
  if (needsFlow(config.features)) for (const t of everyTable) await attachSynflow(t);
  if (needsContext(config.features)) {
    for (const table of everyTable) {
      const context = networkContext(
        table.tensors.map((t) => ({ name: t.layer.name, cols: t })),
        config.features,
      );
      for (const t of table.tensors) t.context = context;
    }
  }
  const modes = new Set(everyTable.map((t) => `${t.metadata.get('feature_bn_mode')}/${t.metadata.get('temperature')}`));
  if (modes.size > 1) usage(`the tables computed their features differently (${[...modes].join(' vs ')}); fit on tables from one feature setting`);
  const holdoutArch = config.holdoutArch ?? [];
  const archOf = new Map(tables.map((t) => [t, architectureOf(t.metadata)]));
  const archs = [...new Set(archOf.values())];
  const all = tables.flatMap((t) => t.tensors);
  let validation: FitMetrics['validation'];
  let trainTables = tables;
  let valTables: SourceTable[] = [];
  let trainSet: SourceTensor[];
  let valSet: SourceTensor[];
  if (val) {
    validation = 'table';
    trainSet = all;
    valSet = val.tensors;
    valTables = [val];
  } else if (config.holdout?.length) {
    validation = 'tensors';
    for (const h of config.holdout)
      if (!all.some((t) => t.layer.name === h)) usage(`--holdout names '${h}', which no table holds; use one of ${all.map((t) => t.layer.name).join(', ')}`);
    trainSet = all.filter((t) => !config.holdout!.includes(t.layer.name));
    valSet = all.filter((t) => config.holdout!.includes(t.layer.name));
  } else if (holdoutArch.length) {
    validation = 'architectures';
    for (const h of holdoutArch)
      if (!archs.some((a) => archMatches(a, h))) usage(`--holdout-arch names '${h}', which no table is; the tables' architectures are ${archs.join(', ')}`);
    const held = (t: SourceTable) => holdoutArch.some((h) => archMatches(archOf.get(t)!, h));
    trainTables = tables.filter((t) => !held(t));
    valTables = tables.filter(held);
    if (!trainTables.length) usage(`--holdout-arch ${holdoutArch.join(',')} holds out every table; keep at least one architecture to fit on`);
    trainSet = trainTables.flatMap((t) => t.tensors);
    valSet = valTables.flatMap((t) => t.tensors);
  } else if (archs.length >= 2) {
    validation = 'leave-one-architecture-out';
    trainSet = all;
    valSet = all;
  } else {
    validation = 'tensors';
    trainSet = tables.flatMap((t) => t.tensors.filter((_, i) => i % 3 !== 1));
    valSet = tables.flatMap((t) => t.tensors.filter((_, i) => i % 3 === 1));
  }
  if (!trainSet.length || !valSet.length)
    usage('need at least one training and one validation tensor: give --holdout, --val-table or a table with ≥ 2 tensors');

  const spec: ScorerSpec = { inputs: config.features.length, hidden: config.hidden, activation: config.activation };
  /** Fits the scorer (and with --control its shuffled-label twin) on `fitSet`; ranks `evalSet` with both. */
  const fitAndScore = async (fitSet: SourceTensor[], evalSets: Array<{ tensors: SourceTensor[]; extra: number[] }>, label: string) => {
    const rows = await rowsOf(fitSet, config.features, config.maxRowsPerTensor, new Rng(config.seed), config.target);
    const constant = constantColumns(rows, spec.inputs);
    const weights = await foldConstantFeatures(await train(spec, rows, config, config.seed, label), constant);
    const scored = [];
    for (const { tensors, extra } of evalSets) {
      const truth = concatY(tensors, (t) => t.y);
      const predicted = await predict(spec, weights, tensors, config.features);
      scored.push({
        predicted,
        autos: rankingMetrics(predicted, truth, extra, sizesOf(tensors)),
        ...handcrafted(tensors, truth, extra),
        shuffled_control: undefined as RankingMetrics | undefined,
      });
    }
    if (config.control) {
      const shuffled = { ...rows, y: new Rng(config.seed + 1).shuffle(Float32Array.from(rows.y)) };
      const control = await foldConstantFeatures(await train(spec, shuffled, config, config.seed, `${label} control`), constant);
      for (const [i, { tensors, extra }] of evalSets.entries()) {
        scored[i].shuffled_control = rankingMetrics(
          await predict(spec, control, tensors, config.features),
          concatY(tensors, (t) => t.y),
          extra,
          sizesOf(tensors),
        );
      }
      tf.dispose(control.flatMap(({ w, b }) => [w, b]));
    }
    return { rows, constant, weights, scored };
  };

  // Layer allocation: per-layer density curves of the training tables.
  const allocationFeatures = config.allocationFeatures ?? DEFAULT_ALLOCATION_FEATURES;
  const lambda = config.allocationLambda ?? DEFAULT_ALLOCATION_LAMBDA;
  const curveOf = new Map(everyTable.map((t) => [t, densityCurve(t)]));
  const trainCurves = trainTables.map((t) => curveOf.get(t)!);
  const allocation = fitAllocation(trainCurves, allocationFeatures, lambda);
  const heldOut = leaveOneArchitectureOut(trainCurves, allocationFeatures, lambda);
  const trainArchs = new Set(trainTables.map((t) => archOf.get(t)!));
  for (const a of new Set(valTables.map((t) => architectureOf(t.metadata)))) {
    if (trainArchs.has(a)) continue; // a --val-table of a training architecture is not a held-out architecture
    heldOut[a] = meanError(valTables.filter((t) => architectureOf(t.metadata) === a).map((t) => allocationError(allocation, curveOf.get(t)!)));
  }
  const trainError = meanError(trainCurves.map((c) => allocationError(allocation, c)));

  const curves: SurvivalCurve[] = everyTable.flatMap((t) => survivalCurves(architectureOf(t.metadata), t.tensors));
  let perArchitecture: Record<string, ArchitectureMetrics> | undefined;
  let final: Awaited<ReturnType<typeof fitAndScore>>;
  let summary: BaselineMetrics & { shuffled_control?: RankingMetrics };
  if (validation === 'leave-one-architecture-out') {
    perArchitecture = {};
    for (const a of archs) {
      const inA = tables.filter((t) => archOf.get(t) === a);
      const rest = tables.filter((t) => archOf.get(t) !== a);
      const fold = await fitAndScore(
        rest.flatMap((t) => t.tensors),
        [{ tensors: inA.flatMap((t) => t.tensors), extra: finalDensityOf(inA[0]) }],
        `fit-autos without ${a}`,
      );
      tf.dispose(fold.weights.flatMap(({ w, b }) => [w, b]));
      const { predicted, ...scores } = fold.scored[0];
      curves.push(
        ...predictionCurves(
          a,
          inA.flatMap((t) => t.tensors),
          predicted,
        ),
      );
      perArchitecture[a] = {
        train_tables: rest.map((t) => t.path),
        validation_tables: inA.map((t) => t.path),
        ...scores,
        allocation: heldOut[a],
      };
    }
    final = await fitAndScore(all, [], 'fit-autos (all tables)');
    const folds = Object.values(perArchitecture);
    summary = {
      autos: meanRanking(folds.map((f) => f.autos)),
      magnitude: meanRanking(folds.map((f) => f.magnitude)),
      snip: meanRanking(folds.map((f) => f.snip)),
      ...(folds.every((f) => f.grasp) ? { grasp: meanRanking(folds.map((f) => f.grasp!)) } : {}),
      shuffled_control: config.control ? meanRanking(folds.map((f) => f.shuffled_control!)) : undefined,
    };
  } else if (validation === 'architectures') {
    const held = [...new Set(valTables.map((t) => archOf.get(t)!))];
    const evals = [
      { tensors: valSet, extra: finalDensityOf(valTables[0]) },
      ...held.map((a) => {
        const inA = valTables.filter((t) => archOf.get(t) === a);
        return { tensors: inA.flatMap((t) => t.tensors), extra: finalDensityOf(inA[0]) };
      }),
    ];
    final = await fitAndScore(trainSet, evals, 'fit-autos');
    summary = withoutPredictions(final.scored[0]);
    perArchitecture = Object.fromEntries(
      held.map((a, i) => {
        const { predicted, ...scores } = final.scored[i + 1];
        curves.push(...predictionCurves(a, evals[i + 1].tensors, predicted));
        return [
          a,
          {
            train_tables: trainTables.map((t) => t.path),
            validation_tables: valTables.filter((t) => archOf.get(t) === a).map((t) => t.path),
            ...scores,
            allocation: heldOut[a],
          },
        ];
      }),
    );
  } else {
    final = await fitAndScore(trainSet, [{ tensors: valSet, extra: finalDensityOf(tables[0]) }], 'fit-autos');
    summary = withoutPredictions(final.scored[0]);
    curves.push(...predictionCurves('held-out tensors', valSet, final.scored[0].predicted));
  }
  const { rows, constant, weights } = final;
  const metrics: FitMetrics = {
    validation,
    architectures: archs,
    train_rows: rows.n,
    constant_features: constant.map(({ j }) => config.features[j]),
    train_tensors: tensorNames(trainSet),
    validation_tensors: tensorNames(valSet),
    autos: summary.autos,
    magnitude: summary.magnitude,
    snip: summary.snip,
    ...(summary.grasp ? { grasp: summary.grasp } : {}),
    ...(summary.shuffled_control ? { shuffled_control: summary.shuffled_control } : {}),
    ...(perArchitecture ? { per_architecture: perArchitecture } : {}),
    allocation: { features: allocation.features, lambda, held_out: heldOut, train_error: trainError },
    seconds: 0,
  };
  metrics.seconds = (performance.now() - started) / 1000;
  const meta0 = tables[0].metadata;
  const meta: AutosMeta = {
    format: 'pipeline-autos-v1',
    features: config.features,
    normalization: 'per-tensor-rms',
    scorer: spec,
    feature_bn_mode: (meta0.get('feature_bn_mode') as 'train' | 'eval') ?? 'eval',
    temperature: Number(meta0.get('temperature') ?? 200),
    samples_per_class: meta0.has('samples_per_class') ? Number(meta0.get('samples_per_class')) : null,
    sources: config.tables,
  };
  makeDirs(outDir);
  await saveAutos(outDir, meta, weights);
  saveAllocation(outDir, {
    format: ALLOCATION_FORMAT,
    target: 'logit(layer density), densities clipped to [clip, 1 − clip]',
    clip: CLIP,
    ...allocation,
    sources: trainTables.map((t) => t.path),
    architectures: [...trainArchs],
    held_out: heldOut,
    train_error: trainError,
  });
  writeJsonAtomic(path.join(outDir, 'metrics.json'), metrics);
  writeJsonAtomic(path.join(outDir, CURVES_FILE), curves);
  tf.dispose(weights.flatMap(({ w, b }) => [w, b]));
  return metrics;
}
