import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expectSameFile } from '../helpers/bytes.ts';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';
import { readArrowFile } from '../../src/io/arrow.ts';
import { CRITERIA } from '../../src/scoring/criteria/index.ts';
import { readMaskFile } from '../../src/masks/mask-file.ts';
import { runPrune } from '../../src/prune/run.ts';
import type { PruneConfig } from '../../src/prune/config.ts';
import { UsageError } from '../../src/util/errors.ts';

const bin = path.resolve(import.meta.dirname, '../../bin/pipeline.mjs');
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, PIPELINE_QUIET: '1' } });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-prune-'));

const base: PruneConfig = {
  criterion: 'snip',
  model: 'lenet300',
  dataset: 'mnist',
  density: 0.1,
  scope: 'global',
  samplesPerClass: 10,
  seed: 0,
  temperature: 200,
  dumpScores: true,
};

describe('pipeline prune', () => {
  it('--reconnect: the report counts dropped weights and its effective density reaches the density, per-layer counts unchanged', () => {
    const reports = [[], ['--reconnect']].map((flags) => {
      const dir = path.join(tmp(), 'run');
      const r = run('prune', '--criterion', 'snip', '--model', 'lenet5', '--sparsity', '0.98', ...flags, '--out', dir);
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
    });
    const [plain, fixed] = reports;
    expect(plain.reconnect).toBe(false);
    expect(plain.effective_density).toBeLessThan(plain.density); // snip at 98% leaves weights on no path
    expect(fixed.reconnect).toBe(true);
    expect(fixed.reconnect_dropped).toBeGreaterThanOrEqual(Math.round((plain.density - plain.effective_density) * 61_470));
    expect(fixed.effective_density).toBe(fixed.density);
    expect(fixed.reconnect_left).toBe(0);
    expect(fixed.layers.map((l: { kept: number }) => l.kept)).toEqual(plain.layers.map((l: { kept: number }) => l.kept));
  });

  it('writes masks, report and a per-weight score table that agree with each other', async () => {
    const backend = await initBackend('wasm');
    const dir = path.join(tmp(), 'run');
    const { report } = await runPrune({ ...base, criterion: 'grasp' }, { out: dir, backend });
    const total = 266_200;
    expect(report.criterion).toBe('grasp');
    expect(report.layers.map((l) => l.name)).toEqual(['fc1', 'fc2', 'fc3']);
    expect(report.layers.reduce((n, l) => n + l.kept, 0)).toBe(Math.round(0.1 * total));
    expect(report.density).toBeCloseTo(Math.round(0.1 * total) / total, 12);
    expect(report.grad_norm_ratio).toBeGreaterThan(0);
    const masks = readMaskFile(path.join(dir, 'masks.arrow'));
    report.layers.forEach((l) => expect(masks.get(l.name)!.reduce((a, b) => a + b, 0)).toBe(l.kept));
    const table = readArrowFile(path.join(dir, 'scores.arrow'));
    expect(table.numRows).toBe(total);
    expect(table.schema.fields.map((f) => f.name)).toEqual(['layer', 'index', 'theta', 'grad', 'hg', 'score', 'kept']);
    // grasp's keep-score column is theta · hg row by row, and kept agrees with the mask file.
    const theta = table.getChild('theta')!.toArray() as Float32Array;
    const hg = table.getChild('hg')!.toArray() as Float32Array;
    const score = table.getChild('score')!.toArray() as Float32Array;
    const kept = table.getChild('kept')!.toArray() as Uint8Array;
    for (let i = 0; i < total; i += 997) expect(score[i]).toBe(Math.fround(theta[i] * hg[i]));
    expect(kept.reduce((a, b) => a + b, 0)).toBe(Math.round(0.1 * total));
    expect(Array.from(kept.subarray(0, 784 * 300))).toEqual(Array.from(masks.get('fc1')!));
    for (const f of ['report.json', 'manifest.json', 'DONE']) expect(fs.existsSync(path.join(dir, f))).toBe(true);
    // Same config + seed + backend → identical masks.
    const again = path.join(tmp(), 'run');
    await runPrune({ ...base, criterion: 'grasp' }, { out: again, backend });
    expectSameFile(path.join(again, 'masks.arrow'), path.join(dir, 'masks.arrow'));
  });

  it('--train trains the pruned net and reports its test accuracy', async () => {
    const backend = await initBackend('wasm');
    const dir = path.join(tmp(), 'run');
    const config: PruneConfig = {
      ...base,
      dumpScores: false,
      train: { ...(await import('../../src/cli/commands/train.ts')).resolveTrainConfig({ model: 'lenet300', dataset: 'mnist', epochs: 1 }) },
    };
    const { report } = await runPrune(config, { out: dir, backend });
    expect(report.test_accuracy).toBeGreaterThan(0.85);
    expect(fs.existsSync(path.join(dir, 'train', 'checkpoint.safetensors'))).toBe(true);
  });

  it('a finished directory is reused only by the same configuration; another one is refused until --force', async () => {
    const backend = await initBackend('wasm');
    const dir = path.join(tmp(), 'run');
    const config: PruneConfig = { ...base, dumpScores: false };
    expect((await runPrune(config, { out: dir, backend })).skipped).toBe(false);
    expect((await runPrune(config, { out: dir, backend })).skipped).toBe(true);
    await expect(runPrune({ ...config, density: 0.2 }, { out: dir, backend })).rejects.toThrow(
      /holds a prune run with a different configuration; pass another --out or --force/,
    );
    const forced = await runPrune({ ...config, density: 0.2 }, { out: dir, backend, force: true });
    expect(forced.skipped).toBe(false);
    expect(forced.report.target_density).toBe(0.2);
  });

  it('NaN scores stop the run with the tensor named and nothing written', async () => {
    const backend = await initBackend('wasm');
    CRITERIA['nan-test'] = {
      ...CRITERIA.magnitude,
      name: 'nan-test',
      score: async (input) => {
        const out = await CRITERIA.magnitude.score(input);
        out.scores.get('fc2')![5] = Number.NaN;
        return out;
      },
    };
    const dir = path.join(tmp(), 'run');
    try {
      await expect(runPrune({ ...base, criterion: 'nan-test' }, { out: dir, backend })).rejects.toThrow(/non-finite score\(s\) in tensor 'fc2'/);
      await expect(runPrune({ ...base, criterion: 'nan-test' }, { out: dir, backend })).rejects.toBeInstanceOf(UsageError);
      expect(fs.existsSync(dir)).toBe(false);
    } finally {
      delete CRITERIA['nan-test'];
    }
  });

  for (const [name, args, pattern] of [
    ['density above 1', ['--density', '1.5'], /--density 1.5 is outside \(0, 1\]/],
    ['density 0', ['--density', '0'], /outside \(0, 1\]/],
    ['sparsity 1', ['--sparsity', '1'], /--sparsity 1 is outside \[0, 1\)/],
    ['both density and sparsity', ['--density', '0.1', '--sparsity', '0.9'], /exactly one of --density/],
    ['a data criterion without data', ['--density', '0.1', '--dataset', 'none', '--input-shape', '28,28,1', '--classes', '10'], /needs scoring data/],
    ['unknown criterion', ['--density', '0.1', '--criterion', 'obd'], /unknown criterion 'obd'/],
    // Refused before pruning: this one used to prune, write masks and only then fail at training.
    [
      'training without data',
      ['--density', '0.1', '--criterion', 'synflow', '--dataset', 'none', '--input-shape', '28,28,1', '--classes', '10', '--train'],
      /^pipeline: --train needs a dataset to train on, but --dataset is none: name a dataset \(e\.g\. mnist\)$/,
    ],
    [
      'a density that keeps no weight',
      ['--density', '1e-9'],
      /^pipeline: density 1e-9 keeps no weight of lenet300's 266200 prunable weights: use a density of at least 0\.00000376 \(one weight\)$/,
    ],
    [
      'a width that empties a layer',
      ['--density', '0.5', '--width', '0.001'],
      /^pipeline: lenet300 at width 0\.001 gives fc1 the shape 784×0, an empty layer: pass a larger --width$/,
    ],
  ] as const) {
    it(`bad input: ${name} → one line, exit 2, nothing written`, () => {
      const out = path.join(tmp(), 'out');
      const criterion = (args as readonly string[]).includes('--criterion') ? [] : ['--criterion', 'snip'];
      const r = run('prune', ...criterion, '--model', 'lenet300', ...args, '--out', out);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(pattern);
      expect(fs.existsSync(out)).toBe(false);
    });
  }

  it('data-free criteria run with --dataset none', () => {
    const out = path.join(tmp(), 'out');
    const r = run(
      'prune',
      '--criterion',
      'synflow',
      '--model',
      'lenet5',
      '--dataset',
      'none',
      '--input-shape',
      '28,28,1',
      '--classes',
      '10',
      '--sparsity',
      '0.9',
      '--iterations',
      '5',
      '--out',
      out,
    );
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
    expect(report.grad_norm_ratio).toBeNull();
    expect(report.iterations).toBe(5);
    expect(report.layers.reduce((n: number, l: { kept: number }) => n + l.kept, 0)).toBe(Math.round(0.1 * 61_470));
  });
});
