import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAsync } from '../helpers/cli.ts';
import type { AllocationFeature, AllocationFile } from '../../src/autos/allocation-model.ts';
import { fitAutos, type FitConfig } from '../../src/autos/fit.ts';
import { initBackend } from '../../src/engine/backend.ts';
import type { Model } from '../../src/models/types.ts';
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
      table(root, fakeModel('lenet300', 1, [[64, 32], [32, 16], [16, 10]])),
      table(root, fakeModel('lenet5', 1, [[3, 3, 1, 4], [3, 3, 4, 8], [72, 16], [16, 10]])),
      table(root, fakeModel('vgg11', 0.5, [[3, 3, 3, 8], [3, 3, 8, 8], [3, 3, 8, 16], [16, 10]])),
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
    expect(r.stderr).toMatch(/drop --holdout/);
    r = await cli('fit-autos', '--table', ...tables, '--allocation-features', 'bias,depthh', '--out', path.join(root, 'x'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown allocation feature 'depthh'/);
    expect(fs.existsSync(path.join(root, 'x'))).toBe(false);
  }, 180_000);
});
