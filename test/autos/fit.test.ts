import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAsync } from '../helpers/cli.ts';
import { DEFAULT_FEATURES, featureMatrix } from '../../src/scoring/autos/features.ts';
import { fitAutos, type FitConfig } from '../../src/autos/fit.ts';
import { precisionAtDensity, rankingMetrics, spearman } from '../../src/scoring/autos/metrics.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { parseIrpConfig } from '../../src/irp/config.ts';
import { runIrp } from '../../src/irp/run.ts';
import { runPrune } from '../../src/prune/run.ts';
import { synflowScores } from '../../src/scoring/criteria/synflow.ts';
import { attachSynflow, readSurvivalSource } from '../../src/scoring/autos/source.ts';
import { createModel, initParams } from '../../src/models/index.ts';

const bin = path.resolve(import.meta.dirname, '../../bin/pipeline.mjs');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-autos-'));
const cli = (...args: string[]) => runAsync(process.execPath, [bin, ...args], { ...process.env, PIPELINE_QUIET: '1' });

const fitDefaults: Omit<FitConfig, 'tables'> = {
  features: DEFAULT_FEATURES,
  hidden: [64, 64],
  activation: 'relu',
  loss: 'mse',
  target: 'survival',
  lr: 0.01,
  batchSize: 1024,
  epochs: 10,
  seed: 1,
  maxRowsPerTensor: 200_000,
  control: true,
};

describe('ranking metrics', () => {
  it('spearman is 1 for a monotone map, −1 reversed, and averages ties', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    expect(spearman([1, 1, 2, 2], [1, 1, 2, 2])).toBeCloseTo(1, 12);
  });
  it('tensor_spearman is the mean of the per-tensor ρ (tensors with constant labels skipped)', () => {
    // Tensor 1 (3 weights) ranked perfectly, tensor 2 (3) reversed, tensor 3 (2) constant labels.
    const pred = [1, 2, 3, 3, 2, 1, 5, 6];
    const truth = [0, 1, 2, 0, 1, 2, 4, 4];
    const m = rankingMetrics(pred, truth, [], [3, 3, 2]);
    expect(m.tensor_spearman).toBeCloseTo((1 + -1) / 2, 12);
    expect(rankingMetrics(pred, truth).tensor_spearman).toBeUndefined();
  });
  it('precision@density counts predicted top-k that reach the k-th survival level', () => {
    // truth: 10 weights, top-2 by survival are indices 8 and 9.
    const truth = [0, 0, 1, 1, 2, 2, 3, 3, 4, 5];
    expect(precisionAtDensity([0, 0, 0, 0, 0, 0, 0, 0, 9, 8], truth, 0.2)).toBe(1);
    expect(precisionAtDensity([9, 8, 0, 0, 0, 0, 0, 0, 0, 0], truth, 0.2)).toBe(0);
    expect(precisionAtDensity([9, 0, 0, 0, 0, 0, 0, 0, 0, 8], truth, 0.2)).toBe(0.5);
  });
  it('features are normalized per tensor: scaling a tensor leaves its features unchanged', () => {
    const layer = { name: 'l', kind: 'dense' as const, shape: [2, 2], fan_in: 2, fan_out: 2, kernel_size: 1, depth: 0.5 };
    const cols = { theta: Float32Array.from([1, -2, 3, 4]), grad: Float32Array.from([0.1, 0.2, -0.3, 0.4]), hg: Float32Array.from([1, 1, 2, -2]) };
    const scaled = { theta: cols.theta.map((v) => v * 8), grad: cols.grad.map((v) => v * 0.5), hg: cols.hg.map((v) => v * 4) };
    expect(Array.from(featureMatrix(scaled, layer, DEFAULT_FEATURES))).toEqual(
      Array.from(featureMatrix(cols, layer, DEFAULT_FEATURES)).map((v) => expect.closeTo(v, 6)),
    );
  });
});

describe('fit-autos on the CPU IRP preset', () => {
  it('beats |θ| and a shuffled-label control on the held-out tensor at the table’s final density, and prunes another architecture', async () => {
    const backend = await initBackend('wasm');
    const root = tmp();
    const preset = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../pipelines/irp-lenet300-mnist.json'), 'utf8'));
    const irp = await runIrp(parseIrpConfig(preset, 'preset'), { out: path.join(root, 'irp'), backend });
    const table = path.join(irp.dir, 'survival.arrow');
    const m = await fitAutos({ ...fitDefaults, tables: [table] }, path.join(root, 'autos'));
    expect(m.validation_tensors).toEqual(['survival.arrow:fc2']);
    // lenet300 has no conv tensor: `kind` never varies, so it is folded into the bias and ignored.
    expect(m.constant_features).toEqual(['kind']);
    const final = String(preset.finalDensity);
    expect(m.autos.precision[final]).toBeGreaterThan(m.magnitude.precision[final]);
    expect(m.autos.precision[final]).toBeGreaterThan(m.shuffled_control!.precision[final]);
    expect(m.autos.spearman).toBeGreaterThan(m.shuffled_control!.spearman);
    expect(fs.existsSync(path.join(root, 'autos', 'metrics.json'))).toBe(true);
    // The handcrafted baselines rank the same held-out tensor: |θ·g| (SNIP) and θ·Hg (GraSP's keep-score).
    const fc2 = (await readSurvivalSource(table, true)).tensors.find((t) => t.layer.name === 'fc2')!;
    const snipScore = Float32Array.from(fc2.theta, (v, i) => Math.abs(v * fc2.grad[i]));
    const graspScore = Float32Array.from(fc2.theta, (v, i) => v * fc2.hg![i]);
    expect(m.snip.spearman).toBeCloseTo(spearman(snipScore, fc2.y), 12);
    expect(m.grasp!.spearman).toBeCloseTo(spearman(graspScore, fc2.y), 12);
    expect(m.grasp!.precision['0.02']).toBe(precisionAtDensity(graspScore, fc2.y, 0.02));
    expect(m.snip.spearman).not.toBeCloseTo(m.magnitude.spearman, 6);
    // Transfer to a conv net with a per-layer allocation taken from grasp.
    const { report } = await runPrune(
      {
        criterion: 'autos',
        autos: path.join(root, 'autos'),
        allocation: 'grasp',
        model: 'lenet5',
        dataset: 'mnist',
        density: 0.05,
        scope: 'global',
        samplesPerClass: 10,
        seed: 0,
        temperature: 200,
        dumpScores: false,
      },
      { out: path.join(root, 'prune'), backend },
    );
    const grasp = await runPrune(
      {
        criterion: 'grasp',
        model: 'lenet5',
        dataset: 'mnist',
        density: 0.05,
        scope: 'global',
        samplesPerClass: 10,
        seed: 0,
        temperature: 200,
        dumpScores: false,
      },
      { out: path.join(root, 'grasp'), backend },
    );
    expect(report.layers.map((l) => l.kept)).toEqual(grasp.report.layers.map((l) => l.kept));
    // Scale-free recipe: per-tensor rank features and rank targets; rank_theta_hg makes prune compute Hg.
    const rankFeatures = ['rank_abs_theta', 'rank_theta_grad', 'rank_theta_hg'] as const;
    const mr = await fitAutos(
      { ...fitDefaults, tables: [table], features: [...rankFeatures], target: 'rank', control: false, epochs: 2 },
      path.join(root, 'autos-rank'),
    );
    expect(mr.constant_features).toEqual([]);
    expect(mr.autos.spearman).toBeGreaterThan(0);
    const ranked = await runPrune(
      {
        criterion: 'autos',
        autos: path.join(root, 'autos-rank'),
        allocation: 'grasp',
        model: 'lenet5',
        dataset: 'mnist',
        density: 0.05,
        scope: 'global',
        samplesPerClass: 10,
        seed: 0,
        temperature: 200,
        dumpScores: false,
      },
      { out: path.join(root, 'prune-rank'), backend },
    );
    expect(ranked.report.layers.map((l) => l.kept)).toEqual(grasp.report.layers.map((l) => l.kept));
    // rank_synflow: the source's SynFlow scores come from the model and seed in its metadata, at the θ₀ the
    // table holds (a table whose θ is not that initialization is refused).
    const source = await readSurvivalSource(table, false);
    await attachSynflow(source);
    const lenet300 = createModel('lenet300');
    const theta0 = initParams(lenet300, preset.seed ?? 0);
    const want = await synflowScores(lenet300, theta0);
    for (const t of source.tensors) expect(Array.from(t.flow!), t.layer.name).toEqual(Array.from(want.get(t.layer.name)!));
    source.tensors[1].theta[0] += 1e-3;
    await expect(attachSynflow(source)).rejects.toThrow(/tensor 'fc2' is not lenet300's initialization with seed/);
    const mf = await fitAutos(
      { ...fitDefaults, tables: [table], features: [...rankFeatures, 'rank_synflow'], target: 'rank', control: false, epochs: 2 },
      path.join(root, 'autos-flow'),
    );
    expect(mf.autos.spearman).toBeGreaterThan(0);
    const flowed = await runPrune(
      {
        criterion: 'autos',
        autos: path.join(root, 'autos-flow'),
        allocation: 'grasp',
        model: 'lenet5',
        dataset: 'mnist',
        density: 0.05,
        scope: 'global',
        samplesPerClass: 10,
        seed: 0,
        temperature: 200,
        dumpScores: false,
      },
      { out: path.join(root, 'prune-flow'), backend },
    );
    expect(flowed.report.layers.map((l) => l.kept)).toEqual(grasp.report.layers.map((l) => l.kept));
    // Bad input: a model dir fitted on other features than requested.
    const r = await cli(
      'prune',
      '--criterion',
      'autos',
      '--autos',
      path.join(root, 'autos'),
      '--features',
      'theta,grad',
      '--model',
      'lenet5',
      '--density',
      '0.1',
      '--out',
      path.join(root, 'x'),
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/was fitted on features theta,grad,hg,.* not theta,grad/);
    expect(fs.existsSync(path.join(root, 'x'))).toBe(false);
    const fit2 = await cli('fit-autos', '--table', table, '--features', 'theta,grad,nonsense', '--out', path.join(root, 'bad'));
    expect(fit2.status).toBe(2);
    expect(fit2.stderr).toMatch(/unknown AutoS feature 'nonsense'/);
  }, 300_000);
});

describe('fit-autos bad input', () => {
  it('an empty or foreign Arrow file, and a table without a needed column, are one-line errors', async () => {
    const root = tmp();
    const empty = path.join(root, 'empty.arrow');
    fs.writeFileSync(empty, '');
    let r = await cli('fit-autos', '--table', empty, '--out', path.join(root, 'o'));
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const { writeMaskFile } = await import('../../src/masks/mask-file.ts');
    const foreign = path.join(root, 'masks.arrow');
    writeMaskFile(foreign, new Map([['fc', new Uint8Array(4)]]), new Map([['fc', [2, 2]]]));
    r = await cli('fit-autos', '--table', foreign, '--out', path.join(root, 'o'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/lacks column\(s\) theta, grad, rounds_survived, score/);
    expect(fs.existsSync(path.join(root, 'o'))).toBe(false);
  });
});
