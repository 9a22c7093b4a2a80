import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeJsonAtomic } from '../io/atomic.ts';
import { usage } from '../util/errors.ts';
import { createProgress } from '../util/progress.ts';
import { Rng } from '../util/rng.ts';
import { type FeatureName, featureMatrix, needsHg, percentiles } from './features.ts';
import { rankingMetrics, type RankingMetrics } from './metrics.ts';
import { type AutosMeta, saveAutos } from './model-file.ts';
import { initScorer, scoreRows, scorerForward, type ScorerSpec, type ScorerWeights } from './scorer.ts';
import { readSurvivalSource, type SourceTensor } from './source.ts';
import { withRunLock } from '../io/run-lock.ts';

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
}

export interface FitMetrics {
  train_rows: number;
  /** Features constant on every training row (e.g. `kind` when fitting on MLPs only): folded into the bias, ignored when scoring. */
  constant_features: string[];
  train_tensors: string[];
  validation_tensors: string[];
  autos: RankingMetrics;
  magnitude: RankingMetrics;
  shuffled_control?: RankingMetrics;
  seconds: number;
}

interface Rows {
  x: Float32Array;
  y: Float32Array;
  n: number;
}

function rowsOf(tensors: SourceTensor[], features: FeatureName[], cap: number, rng: Rng, target: FitConfig['target'] = 'survival'): Rows {
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
  tensors.forEach((t, ti) => {
    const m = featureMatrix(t, t.layer, features);
    const label = target === 'rank' ? percentiles(t.y) : t.y;
    for (const i of picks[ti]) {
      x.set(m.subarray(i * f, (i + 1) * f), o * f);
      y[o++] = label[i];
    }
  });
  return { x, y, n: total };
}

function train(spec: ScorerSpec, rows: Rows, config: FitConfig, seed: number, label: string): ScorerWeights {
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
  for (const t of tensors) parts.push(await scoreRows(spec, weights, featureMatrix(t, t.layer, features)));
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const concatY = (tensors: SourceTensor[], f: (t: SourceTensor) => ArrayLike<number>) => Float32Array.from(tensors.flatMap((t) => Array.from(f(t))));

/** `pipeline fit-autos`: fits the scorer, validates on held-out tensors, writes the model and metrics.json. */
/** Fits AutoS into `outDir`, holding the directory's lock. */
export function fitAutos(config: FitConfig, outDir: string): Promise<FitMetrics> {
  return withRunLock(outDir, () => fitAutosIn(config, outDir));
}

async function fitAutosIn(config: FitConfig, outDir: string): Promise<FitMetrics> {
  const started = performance.now();
  const hg = needsHg(config.features);
  const tables = [];
  for (const t of config.tables) tables.push(await readSurvivalSource(t, hg));
  const val = config.valTable ? await readSurvivalSource(config.valTable, hg) : undefined;
  const modes = new Set([...tables, ...(val ? [val] : [])].map((t) => `${t.metadata.get('feature_bn_mode')}/${t.metadata.get('temperature')}`));
  if (modes.size > 1) usage(`the tables computed their features differently (${[...modes].join(' vs ')}); fit on tables from one feature setting`);
  const all = tables.flatMap((t) => t.tensors);
  let trainSet: SourceTensor[];
  let valSet: SourceTensor[];
  if (val) {
    trainSet = all;
    valSet = val.tensors;
  } else if (config.holdout?.length) {
    for (const h of config.holdout) if (!all.some((t) => t.layer.name === h)) usage(`--holdout names '${h}', which no table holds; use one of ${all.map((t) => t.layer.name).join(', ')}`);
    trainSet = all.filter((t) => !config.holdout!.includes(t.layer.name));
    valSet = all.filter((t) => config.holdout!.includes(t.layer.name));
  } else {
    trainSet = tables.flatMap((t) => t.tensors.filter((_, i) => i % 3 !== 1));
    valSet = tables.flatMap((t) => t.tensors.filter((_, i) => i % 3 === 1));
  }
  if (!trainSet.length || !valSet.length) usage('need at least one training and one validation tensor: give --holdout, --val-table or a table with ≥ 2 tensors');

  const spec: ScorerSpec = { inputs: config.features.length, hidden: config.hidden, activation: config.activation };
  const rows = rowsOf(trainSet, config.features, config.maxRowsPerTensor, new Rng(config.seed), config.target);
  const truth = concatY(valSet, (t) => t.y);
  const finalDensity = (() => {
    const d = JSON.parse(tables[0].metadata.get('densities') ?? '[]') as number[];
    return d.length ? [d[d.length - 1]] : [];
  })();
  const constant = constantColumns(rows, spec.inputs);
  const weights = await foldConstantFeatures(train(spec, rows, config, config.seed, 'fit-autos'), constant);
  const metrics: FitMetrics = {
    train_rows: rows.n,
    constant_features: constant.map(({ j }) => config.features[j]),
    train_tensors: trainSet.map((t) => `${path.basename(t.source)}:${t.layer.name}`),
    validation_tensors: valSet.map((t) => `${path.basename(t.source)}:${t.layer.name}`),
    autos: rankingMetrics(await predict(spec, weights, valSet, config.features), truth, finalDensity),
    magnitude: rankingMetrics(concatY(valSet, (t) => t.theta.map(Math.abs)), truth, finalDensity),
    seconds: 0,
  };
  if (config.control) {
    const shuffled = { ...rows, y: new Rng(config.seed + 1).shuffle(Float32Array.from(rows.y)) };
    const control = await foldConstantFeatures(train(spec, shuffled, config, config.seed, 'fit-autos control'), constant);
    metrics.shuffled_control = rankingMetrics(await predict(spec, control, valSet, config.features), truth, finalDensity);
    tf.dispose(control.flatMap(({ w, b }) => [w, b]));
  }
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
  fs.mkdirSync(outDir, { recursive: true });
  await saveAutos(outDir, meta, weights);
  writeJsonAtomic(path.join(outDir, 'metrics.json'), metrics);
  tf.dispose(weights.flatMap(({ w, b }) => [w, b]));
  return metrics;
}
