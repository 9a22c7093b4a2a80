import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAsync } from '../helpers/cli.ts';
import type { AllocationFeature, AllocationFile } from '../../src/scoring/autos/allocation-model.ts';
import { fitAutos, type FitConfig } from '../../src/autos/fit.ts';
import { initBackend } from '../../src/engine/backend.ts';
import type { Model } from '../../src/models/types.ts';
import type { SurvivalCurve } from '../../src/autos/survival-curves.ts';
import { writeSurvivalPlots } from '../../src/report/survival-plot.ts';
import { fakeModel, writeFixtureTable } from './survival-fixture.ts';

const bin = path.resolve(import.meta.dirname, '../../bin/pipeline.mjs');
const cli = (...args: string[]) => runAsync(process.execPath, [bin, ...args], { ...process.env, PIPELINE_QUIET: '1' });
const sig = (z: number) => 1 / (1 + Math.exp(-z));
const lgt = (d: number) => Math.log(d / (1 - d));

const allocationFeatures: AllocationFeature[] = ['bias', 'logit_global', 'log_fan_in', 'rel_depth'];
/** The law every fixture follows: logit d_l = 0.3 + logit D − 0.4 log fan_in + 1.5 depth. */
const law = (fanIn: number, depth: number, global: number) => sig(0.3 + lgt(global) - 0.4 * Math.log(fanIn) + 1.5 * depth);

const fitDefaults: Omit<FitConfig, 'tables'> = {
  features: ['abs_theta', 'theta_grad', 'kind', 'log_fan_in'],
  hidden: [16],
  activation: 'relu',
  loss: 'mse',
  target: 'survival',
  lr: 0.01,
  batchSize: 256,
  epochs: 3,
  seed: 1,
  maxRowsPerTensor: 2000,
  control: false,
  allocationFeatures,
  allocationLambda: 1e-6,
};

function table(root: string, model: Model): string {
  const file = path.join(root, `${model.config.name}.arrow`);
  const globals = [0.6, 0.35, 0.2, 0.1];
  writeFixtureTable(file, model, globals.length, (r) => model.prunable.map((p) => Math.round(p.size * law(p.fanIn, p.depth, globals[r]))));
  return file;
}

describe('fit-autos on tables of several architectures', () => {
  it('leave-one-architecture-out: per-architecture metrics, the allocation law recovered, the saved scorer fitted on every table', async () => {
    await initBackend('wasm');
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-fitmulti-'));
    const tables = [
      table(
        root,
        fakeModel('lenet300', 1, [
          [64, 32],
          [32, 16],
          [16, 10],
        ]),
      ),
      table(
        root,
        fakeModel('lenet5', 1, [
          [3, 3, 1, 4],
          [3, 3, 4, 8],
          [72, 16],
          [16, 10],
        ]),
      ),
      table(
        root,
        fakeModel('vgg11', 0.5, [
          [3, 3, 3, 8],
          [3, 3, 8, 8],
          [3, 3, 8, 16],
          [16, 10],
        ]),
      ),
    ];
    const out = path.join(root, 'autos');
    const m = await fitAutos({ ...fitDefaults, tables }, out);
    expect(m.validation).toBe('leave-one-architecture-out');
    expect(m.architectures).toEqual(['lenet300-w1', 'lenet5-w1', 'vgg11-w0.5']);
    expect(Object.keys(m.per_architecture!)).toEqual(m.architectures);
    for (const [i, a] of m.architectures.entries()) {
      const r = m.per_architecture![a];
      expect(r.validation_tables).toEqual([tables[i]]);
      expect(r.train_tables).toEqual(tables.filter((_, j) => j !== i));
      // Survival follows |θ| within each tensor (pooled over tensors of different densities, with ties).
      expect(r.magnitude.spearman).toBeGreaterThan(0.5);
      expect(r.autos.spearman).toBeGreaterThan(0.3);
      // Every net follows one law (in the nominal global density; the fit sees the counted one): fitted on
      // the other two, the allocation puts < 5% of the budget in the wrong layer, a quarter or less of what
      // one density for every tensor does.
      expect(r.allocation.misallocated).toBeLessThan(0.05);
      expect(r.allocation.misallocated_layer).toBeGreaterThan(4 * r.allocation.misallocated);
      expect(m.allocation.held_out[a]).toEqual(r.allocation);
    }
    expect(m.autos.n).toBe(m.architectures.reduce((s, a) => s + m.per_architecture![a].autos.n, 0));
    expect(m.autos.spearman).toBeCloseTo(m.architectures.reduce((s, a) => s + m.per_architecture![a].autos.spearman, 0) / 3, 12);
    // Figure 1's data: the fixtures' survival is a function of |θ|'s rank, g is independent noise. The |θ₀|
    // curve climbs monotonically from no survival to (nearly) full survival; the plots are drawn.
    const curves = JSON.parse(fs.readFileSync(path.join(out, 'survival-curves.json'), 'utf8')) as SurvivalCurve[];
    const curve = (source: string, kind: string, score: string) => curves.find((c) => c.source === source && c.kind === kind && c.score === score)!.points;
    const rise = (ps: Array<{ survival: number }>) => ps.at(-1)!.survival - ps[0].survival;
    for (const [source, kind] of [
      ['lenet300-w1', 'dense'],
      ['lenet5-w1', 'conv'],
      ['vgg11-w0.5', 'conv'],
    ]) {
      const mag = curve(source, kind, '|θ₀|');
      for (let i = 1; i < mag.length; i++) expect(mag[i].survival).toBeGreaterThanOrEqual(mag[i - 1].survival);
      expect(mag[0].survival).toBe(0);
      // The top 5% by |θ₀| survive (nearly) every round: the last round keeps ~10% of the weights.
      expect(mag.at(-1)!.survival).toBeGreaterThan(0.9);
      // |θ₀·g| carries |θ₀| diluted by the noise in g: it rises, less steeply.
      const snip = rise(curve(source, kind, '|θ₀·g| (SNIP)'));
      expect(snip).toBeGreaterThan(0);
      expect(snip).toBeLessThan(rise(mag) - 0.1);
    }
    expect(curves.filter((c) => c.kind === 'all').map((c) => `${c.source}:${c.score}`)).toEqual(
      m.architectures.flatMap((a) => [`${a}:AutoS (held out)`, `${a}:|θ₀|`]),
    );
    expect(await writeSurvivalPlots(out)).toEqual(['survival-vs-scores.svg', 'predicted-vs-true.svg']);
    for (const f of ['survival-vs-scores.svg', 'predicted-vs-true.svg']) expect(fs.readFileSync(path.join(out, f), 'utf8')).toMatch(/^<svg[^>]*xmlns/);
    // The saved model saw every tensor of every table.
    expect(m.train_tensors).toHaveLength(11);
    const alloc = JSON.parse(fs.readFileSync(path.join(out, 'allocation.json'), 'utf8')) as AllocationFile;
    expect(alloc.features).toEqual(allocationFeatures);
    expect(alloc.sources).toEqual(tables);
    expect(alloc.architectures).toEqual(m.architectures);
    // The law's slopes come back roughly (the counted global density is not the nominal one the law used,
    // which mostly shifts the intercept).
    [1, -0.4, 1.5].forEach((c, j) => expect(Math.abs(alloc.coefficients[j + 1] - c)).toBeLessThan(0.1));
    const saved = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    expect(Object.keys(saved.per_architecture)).toEqual(m.architectures);

    // --holdout-arch: fit on the others, validate on the named one; the saved fits never saw it.
    const h = await fitAutos({ ...fitDefaults, tables, holdoutArch: ['vgg11'] }, path.join(root, 'held'));
    expect(h.validation).toBe('architectures');
    expect(h.validation_tensors.every((t) => t.startsWith('vgg11.arrow:'))).toBe(true);
    expect(h.validation_tensors).toHaveLength(4);
    expect(h.train_tensors.some((t) => t.startsWith('vgg11.arrow:'))).toBe(false);
    expect(Object.keys(h.per_architecture!)).toEqual(['vgg11-w0.5']);
    expect(h.per_architecture!['vgg11-w0.5'].autos).toEqual(h.autos);
    const halloc = JSON.parse(fs.readFileSync(path.join(root, 'held', 'allocation.json'), 'utf8')) as AllocationFile;
    expect(halloc.architectures).toEqual(['lenet300-w1', 'lenet5-w1']);
    expect(Object.keys(halloc.held_out).sort()).toEqual(['lenet300-w1', 'lenet5-w1', 'vgg11-w0.5']);

    // One table: held-out tensors as before, no per-architecture block.
    const one = await fitAutos({ ...fitDefaults, tables: [tables[1]] }, path.join(root, 'one'));
    expect(one.validation).toBe('tensors');
    expect(one.validation_tensors).toEqual(['lenet5.arrow:lenet5.l1']);
    expect(one.per_architecture).toBeUndefined();
    expect(one.allocation.held_out).toEqual({});

    // CLI: an unknown architecture and a clash with --holdout are one-line usage errors.
    let r = await cli('fit-autos', '--table', ...tables, '--holdout-arch', 'resnet18', '--out', path.join(root, 'x'));
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--holdout-arch names 'resnet18', which no table is; the tables' architectures are lenet300-w1, lenet5-w1, vgg11-w0.5/);
    r = await cli('fit-autos', '--table', ...tables, '--holdout-arch', 'vgg11', '--holdout', 'lenet5.l1', '--out', path.join(root, 'x'));
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('pipeline: --holdout-arch holds out whole architectures: drop --holdout and --val-table');
    // The same rule from a library call (or a run's stage 2) names the config's keys, before any table is read.
    expect(() => fitAutos({ ...fitDefaults, tables: ['/no/such.arrow'], holdoutArch: ['vgg11'], valTable: '/no/val.arrow' }, path.join(root, 'y'))).toThrow(
      /^fit config: 'holdoutArch' holds out whole architectures: drop 'holdout' and 'valTable'$/,
    );
    expect(fs.existsSync(path.join(root, 'y'))).toBe(false);
    r = await cli('fit-autos', '--table', ...tables, '--allocation-features', 'bias,depthh', '--out', path.join(root, 'x'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown allocation feature 'depthh'/);
    expect(fs.existsSync(path.join(root, 'x'))).toBe(false);
  }, 180_000);
});
