import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAsync } from '../helpers/cli.ts';
import {
  type AllocationFeature,
  allocationError,
  architectureOf,
  type DensityCurve,
  densityCurve,
  fitAllocation,
  layerInfoOf,
  leaveOneArchitectureOut,
  ridge,
} from '../../src/scoring/autos/allocation-model.ts';
import { readSurvivalSource } from '../../src/scoring/autos/source.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { createModel } from '../../src/models/index.ts';
import { countsFromSizes, signalFloor } from '../../src/scoring/allocation.ts';
import { runPrune } from '../../src/prune/run.ts';
import { fakeModel, tensor, writeFixtureTable } from './survival-fixture.ts';

const bin = path.resolve(import.meta.dirname, '../../bin/pipeline.mjs');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-alloc-'));
const cli = (...args: string[]) => runAsync(process.execPath, [bin, ...args], { ...process.env, PIPELINE_QUIET: '1' });
const sig = (z: number) => 1 / (1 + Math.exp(-z));
const lgt = (d: number) => Math.log(d / (1 - d));

describe('ridge least squares', () => {
  it('matches the hand-computed line through (0,1), (1,2), (2,4) with an unpenalized intercept', () => {
    const x = [
      [1, 0],
      [1, 1],
      [1, 2],
    ];
    const y = [1, 2, 4];
    // Centered: x̄ = 1, ȳ = 7/3, Sxy = 3, Sxx = 2; slope = Sxy/(Sxx + λ), intercept = ȳ − slope·x̄.
    const ols = ridge(x, y, [1, 1, 1], 0, [false, true]);
    expect(ols[1]).toBeCloseTo(1.5, 12);
    expect(ols[0]).toBeCloseTo(7 / 3 - 1.5, 12);
    const r = ridge(x, y, [1, 1, 1], 1, [false, true]);
    expect(r[1]).toBeCloseTo(1, 12);
    expect(r[0]).toBeCloseTo(4 / 3, 12);
    // Row weights: weight 2 on a row is the same as the row twice.
    const w = ridge(x, y, [2, 1, 1], 0.5, [false, true]);
    const dup = ridge([...x, x[0]], [...y, y[0]], [1, 1, 1, 1], 0.5, [false, true]);
    expect(w[0]).toBeCloseTo(dup[0], 12);
    expect(w[1]).toBeCloseTo(dup[1], 12);
  });
  it('an all-zero column gets coefficient 0 instead of a singular solve', () => {
    const c = ridge(
      [
        [1, 0, 1],
        [1, 0, 2],
      ],
      [3, 5],
      [1, 1],
      0,
      [false, false, false],
    );
    expect(c.map((v) => Number(v.toFixed(9)))).toEqual([1, 0, 2]);
  });
});

describe('per-layer density curves of a survival table', () => {
  it('counts rounds_survived ≥ r+1 per tensor and round (hand-computed)', async () => {
    const root = tmp();
    const model = fakeModel('lenet5', 1, [
      [2, 2],
      [2, 3],
    ]);
    const file = path.join(root, 's.arrow');
    // 3 rounds; l0 (4 weights) keeps 3, 2, 1; l1 (6 weights) keeps 5, 2, 0.
    const kept = [
      [3, 5],
      [2, 2],
      [1, 0],
    ];
    writeFixtureTable(file, model, 3, (r) => kept[r]);
    const c = densityCurve(await readSurvivalSource(file, false));
    expect(c.architecture).toBe('lenet5-w1');
    expect(c.density).toEqual([
      [3 / 4, 5 / 6],
      [2 / 4, 2 / 6],
      [1 / 4, 0],
    ]);
    expect(c.global).toEqual([8 / 10, 4 / 10, 1 / 10]);
    expect(c.layers.map((l) => [l.size, l.fan_in, l.fan_out, l.kind])).toEqual([
      [4, 2, 2, 'dense'],
      [6, 2, 3, 'dense'],
    ]);
    expect(architectureOf(new Map([['model', 'vgg11']]))).toBe('vgg11');
  });
});

describe('learned allocation model', () => {
  const features: AllocationFeature[] = ['bias', 'logit_global', 'log_fan_in', 'log_fan_out', 'rel_depth', 'log_size_share'];
  const beta = [-0.5, 1.2, -0.3, 0.2, 0.8, -0.25];
  const nets: Record<string, number[][]> = {
    mlp: [
      [784, 300],
      [300, 100],
      [100, 10],
    ],
    conv: [
      [5, 5, 1, 6],
      [5, 5, 6, 16],
      [256, 120],
      [120, 84],
      [84, 10],
    ],
    vgg: [
      [3, 3, 3, 16],
      [3, 3, 16, 32],
      [3, 3, 32, 64],
      [3, 3, 64, 64],
      [64, 10],
    ],
  };
  /** Curves that follow logit d_l = β·x_l exactly (x computed here, independently of allocationRows). */
  const curve = (arch: string, law = beta): DensityCurve => {
    const layers = nets[arch].map((s, i, all) => layerInfoOf(tensor(`${arch}${i}`, s, i, all.length)));
    const total = layers.reduce((s, l) => s + l.size, 0);
    const global = [0.5, 0.2, 0.1, 0.05, 0.02];
    const density = global.map((g) =>
      layers.map((l) =>
        sig(law[0] + law[1] * lgt(g) + law[2] * Math.log(l.fan_in) + law[3] * Math.log(l.fan_out) + law[4] * l.depth + law[5] * Math.log(l.size / total)),
      ),
    );
    for (const row of density) for (const d of row) expect(d > 1e-4 && d < 1 - 1e-4).toBe(true);
    return { source: arch, architecture: arch, layers, global, density };
  };

  it('recovers the generating coefficients, and leave-one-architecture-out predicts each net exactly', () => {
    const curves = ['mlp', 'conv', 'vgg'].map((a) => curve(a));
    const fit = fitAllocation(curves, features, 1e-9);
    fit.coefficients.forEach((c, j) => expect(c).toBeCloseTo(beta[j], 5));
    const held = leaveOneArchitectureOut(curves, features, 1e-9);
    expect(Object.keys(held).sort()).toEqual(['conv', 'mlp', 'vgg']);
    for (const e of Object.values(held)) {
      expect(e.rmse_logit).toBeLessThan(1e-5);
      // Counts rounded from exact densities: at most a weight or two per layer off.
      expect(e.misallocated).toBeLessThan(1e-3);
      expect(e.misallocated_layer).toBeGreaterThan(0.05);
    }
  });

  it('λ shrinks every coefficient but the intercept: with a huge λ the fit is the mean logit, each table weighing the same', () => {
    const curves = [curve('mlp'), curve('conv')];
    const fit = fitAllocation(curves, ['bias', 'logit_global', 'log_fan_in'], 1e9);
    const tableMean = (c: DensityCurve) => c.density.flat().reduce((s, d) => s + lgt(d), 0) / c.density.flat().length;
    expect(fit.coefficients[0]).toBeCloseTo((tableMean(curves[0]) + tableMean(curves[1])) / 2, 4);
    expect(Math.abs(fit.coefficients[1])).toBeLessThan(1e-6);
    expect(Math.abs(fit.coefficients[2])).toBeLessThan(1e-6);
  });

  it('an architecture that follows another law shows up as a large held-out error', () => {
    const curves = [curve('mlp'), curve('conv'), curve('vgg', [0.5, 1.2, 0.3, -0.2, -0.8, -0.25])];
    const held = leaveOneArchitectureOut(curves, features, 1e-9);
    expect(held.vgg.rmse_logit).toBeGreaterThan(1);
    // The fit on every table is scored on its own curves too.
    const fit = fitAllocation(curves, features, 1e-3);
    expect(allocationError(fit, curves[0]).rounds).toBe(5);
  });
});

describe('counts with a signal floor', () => {
  it('signal floor = min(size, max(units in, units out)) for conv [kh,kw,cin,cout] and dense [in,out]', () => {
    expect(signalFloor({ shape: [3, 3, 16, 32], size: 4608 })).toBe(32);
    expect(signalFloor({ shape: [5, 5, 1, 6], size: 150 })).toBe(6);
    expect(signalFloor({ shape: [784, 300], size: 235200 })).toBe(784);
    expect(signalFloor({ shape: [7], size: 7 })).toBe(7);
  });
  it('a tensor whose share falls below its floor sits at the floor; the others share the rest ∝ share (hand-computed)', () => {
    // sizes 100, 1000, 400; k = 110; shares 1 : 10 : 0.5 → 110·(1, 10, 0.5)/11.5 = 9.565, 95.652, 4.783;
    // floors 9 + 95 + 4 = 108, the 2 left go to the largest remainders (.783, .652).
    expect(countsFromSizes([100, 1000, 400], 110, (i) => [1, 10, 0.5][i])).toEqual([9, 96, 5]);
    // Floors 20 and 30 for the first and last: both bind; the middle keeps 110 − 50 = 60.
    expect(countsFromSizes([100, 1000, 400], 110, (i) => [1, 10, 0.5][i], [20, 0, 30])).toEqual([20, 60, 30]);
    // Floor 20 on the first only: 90 left for shares 10 : 0.5 → 85.714, 4.286 → 86, 4.
    expect(countsFromSizes([100, 1000, 400], 110, (i) => [1, 10, 0.5][i], [20, 0, 0])).toEqual([20, 86, 4]);
    // A cap and a floor at once: sizes 10, 50, 1000; shares 100 : 1 : 1; k = 100; floor 40 on the second.
    // The first is capped at 10; the other two share 90 equally (45 each), above the floor of 40.
    expect(countsFromSizes([10, 50, 1000], 100, (i) => [100, 1, 1][i], [0, 40, 0])).toEqual([10, 45, 45]);
    // With floor 48 the second sits at 48 and the third takes the remaining 42.
    expect(countsFromSizes([10, 50, 1000], 100, (i) => [100, 1, 1][i], [0, 48, 0])).toEqual([10, 48, 42]);
    // No share: the floor only.
    expect(countsFromSizes([10, 50], 20, (i) => [0, 1][i], [5, 0])).toEqual([5, 15]);
  });
});

/** Independent reference: fix tensors below their floor, share the rest ∝ share, largest remainder. */
function referenceCounts(sizes: number[], k: number, share: number[], floors: number[]): number[] {
  const fixed = sizes.map(() => false);
  for (;;) {
    const left = k - floors.reduce((s, f, i) => s + (fixed[i] ? f : 0), 0);
    const w = share.reduce((s, v, i) => s + (fixed[i] ? 0 : v), 0);
    const low = sizes.map((_, i) => !fixed[i] && (share[i] / w) * left < floors[i]);
    if (!low.some(Boolean)) {
      const exact = share.map((v, i) => (fixed[i] ? floors[i] : (v / w) * left));
      const out = exact.map(Math.floor);
      const rest = k - out.reduce((a, b) => a + b, 0);
      const order = exact.map((e, i) => [e - Math.floor(e), i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
      for (let j = 0; j < rest; j++) out[order[j][1]]++;
      return out;
    }
    low.forEach((l, i) => l && (fixed[i] = true));
  }
}

describe('prune --allocation learned', () => {
  it('keeps size·sigmoid(β·x) shares with the signal floor, meets the budget, reports the fewest kept', async () => {
    const backend = await initBackend('wasm');
    const root = tmp();
    const autos = path.join(root, 'autos');
    fs.mkdirSync(autos);
    // d̂ = sigmoid(2 − log fan_in): conv1 0.23 … fc1 0.028; at 2% fc3 (floor 84) would get ~30 and sits at its floor.
    fs.writeFileSync(
      path.join(autos, 'allocation.json'),
      JSON.stringify({ format: 'pipeline-autos-allocation-v1', features: ['bias', 'log_fan_in'], coefficients: [2, -1], lambda: 0 }),
    );
    const base = {
      criterion: 'magnitude',
      model: 'lenet5',
      dataset: 'none',
      inputShape: [28, 28, 1] as [number, number, number],
      numClasses: 10,
      density: 0.02,
      scope: 'global' as const,
      samplesPerClass: 10,
      seed: 0,
      temperature: 200,
      dumpScores: false,
    };
    const { report } = await runPrune({ ...base, allocation: 'learned', autos }, { out: path.join(root, 'p'), backend });
    const model = createModel('lenet5', { inputShape: [28, 28, 1], numClasses: 10 });
    const sizes = model.prunable.map((p) => p.size);
    const k = Math.round(0.02 * sizes.reduce((a, b) => a + b, 0));
    const share = model.prunable.map((p) => p.size * sig(2 - Math.log(p.fanIn)));
    const floors = model.prunable.map((p) => Math.max(p.shape[p.shape.length - 2], p.shape[p.shape.length - 1]));
    const expected = referenceCounts(sizes, k, share, floors);
    expect(report.layers.map((l) => l.kept)).toEqual(expected);
    expect(report.layers.reduce((s, l) => s + l.kept, 0)).toBe(k);
    expect(report.layers.find((l) => l.name === 'fc3')!.kept).toBe(84);
    const fewest = Math.min(...expected);
    expect(report.min_layer_kept).toBe(fewest);
    expect(report.min_layer).toBe(model.prunable[expected.indexOf(fewest)].name);
    expect(report.signal_floor).toBe(true);
    // Without the floor (global magnitude) the same report names its emptiest tensor.
    const plain = await runPrune({ ...base }, { out: path.join(root, 'g'), backend });
    expect(plain.report.min_layer_kept).toBe(Math.min(...plain.report.layers.map((l) => l.kept)));
    expect(plain.report.signal_floor).toBe(false);
    // --signal-floor on a criterion's counts: every tensor reaches its floor, the budget is met.
    const floored = await runPrune({ ...base, allocation: 'magnitude', signalFloor: true }, { out: path.join(root, 'f'), backend });
    floored.report.layers.forEach((l, i) => expect(l.kept).toBeGreaterThanOrEqual(floors[i]));
    expect(floored.report.layers.reduce((s, l) => s + l.kept, 0)).toBe(k);
  }, 120_000);

  it('an AutoS dir without allocation.json, survival without autos, and a floor above the budget are one-line usage errors', async () => {
    const root = tmp();
    const autos = path.join(root, 'autos');
    fs.mkdirSync(autos);
    const args = ['prune', '--criterion', 'magnitude', '--model', 'lenet5', '--dataset', 'none', '--input-shape', '28,28,1', '--classes', '10'];
    let r = await cli(...args, '--density', '0.05', '--allocation', 'learned', '--autos', autos, '--out', path.join(root, 'x'));
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/no allocation\.json .*refit it with 'pipeline fit-autos'/);
    r = await cli(...args, '--density', '0.05', '--allocation', 'survival', '--out', path.join(root, 'x'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--allocation survival needs --criterion autos/);
    // lenet5's floors (6 + 16 + fc1 in + 120 + 84 weights) exceed what 0.5% keeps.
    const model = createModel('lenet5', { inputShape: [28, 28, 1], numClasses: 10 });
    const need = model.prunable.reduce((s, p) => s + Math.max(p.shape[p.shape.length - 2], p.shape[p.shape.length - 1]), 0);
    const k = Math.round(0.005 * model.prunable.reduce((s, p) => s + p.size, 0));
    expect(need).toBeGreaterThan(k);
    r = await cli(...args, '--density', '0.005', '--allocation', 'erk', '--signal-floor', '--out', path.join(root, 'x'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`needs ${need} weights but density 0.005 keeps ${k}`);
    expect(fs.existsSync(path.join(root, 'x'))).toBe(false);
  }, 60_000);
});
