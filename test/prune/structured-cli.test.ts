import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { expectSameFile } from '../helpers/bytes.ts';
import { describe, expect, it } from 'vitest';
import { resolveTrainConfig } from '../../src/cli/commands/train.ts';
import { loadDataset } from '../../src/data/registry.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { createModel, initParams } from '../../src/models/index.ts';
import { channelGates } from '../../src/models/shrink.ts';
import { runPrune } from '../../src/prune/run.ts';
import type { PruneConfig } from '../../src/prune/config.ts';
import { loadShrunk } from '../../src/prune/structured/stage.ts';
import { loadCheckpoint } from '../../src/train/checkpoint.ts';
import { evaluate } from '../../src/train/evaluate.ts';
import { randn, relErr } from '../engine/helpers.ts';

const bin = path.resolve(import.meta.dirname, '../../bin/pipeline.mjs');
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, PIPELINE_QUIET: '1' } });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-structured-'));

const base: PruneConfig = {
  criterion: 'crop',
  model: 'lenet5',
  dataset: 'mnist',
  density: 0.5,
  scope: 'global',
  samplesPerClass: 5,
  seed: 0,
  temperature: 200,
  dumpScores: false,
  structured: true,
};

describe('pipeline prune --structured', () => {
  it('shrinks lenet5 by crop channel scores; the saved shrunk model is the gated dense net and trains as an ordinary model', async () => {
    const backend = await initBackend('wasm');
    const dir = path.join(tmp(), 'run');
    const train = resolveTrainConfig({ model: 'lenet5', dataset: 'mnist', epochs: 1 });
    const { report } = await runPrune({ ...base, train }, { out: dir, backend });
    const s = report.structured!;
    // 6 + 16 channels at 50% → 11 kept, at least one per group.
    expect(s.groups.map((g) => g.size)).toEqual([6, 16]);
    expect(s.groups.reduce((n, g) => n + g.kept, 0)).toBe(11);
    expect(s.channel_density).toBe(0.5);
    const channels = JSON.parse(fs.readFileSync(path.join(dir, 'channels.json'), 'utf8')) as Record<string, number[]>;
    s.groups.forEach((g) => expect(channels[g.name]).toHaveLength(g.kept));
    // Parameter bookkeeping: conv1 keeps k1 of 6 filters, conv2 k2 of 16 filters over k1 inputs, fc1 k2·25 of 400 rows.
    const [k1, k2] = s.groups.map((g) => g.kept);
    expect(report.layers.map((l) => l.kept)).toEqual([25 * k1, 25 * k1 * k2, 25 * k2 * 120, 120 * 84, 84 * 10]);
    expect(s.shrunk.params).toBe(25 * k1 + k1 + 25 * k1 * k2 + k2 + 25 * k2 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10);
    expect(s.dense.params).toBe(61_706);
    expect(s.shrunk.flops_per_example).toBe(2 * (28 * 28 * 25 * k1 + 10 * 10 * 25 * k1 * k2 + 25 * k2 * 120 + 120 * 84 + 84 * 10));
    expect(s.speedup.flops).toBeCloseTo(s.dense.flops_per_example / s.shrunk.flops_per_example, 2);
    expect(s.shrunk.train_step_ms).toBeGreaterThan(0);
    expect(s.shrunk.peak_bytes).toBeLessThan(s.dense.peak_bytes);
    expect(report.density).toBeCloseTo(report.layers.reduce((n, l) => n + l.kept, 0) / 61_470, 12);

    // shrunk.safetensors + model.json = θ₀ of the dense net with the removed channels gated to zero.
    const dense = createModel('lenet5');
    const theta0 = initParams(dense, 0);
    const small = loadShrunk(dir);
    expect(small.model.config.channels).toEqual({ conv1: k1, conv2: k2 });
    const bits = new Map(
      Object.entries(channels).map(([g, idx]) => [g, Uint8Array.from({ length: g === 'conv1' ? 6 : 16 }, (_, i) => (idx.includes(i) ? 1 : 0))]),
    );
    const x = randn([3, 28, 28, 1], 5) as tf.Tensor4D;
    const ref = tf.tidy(() => dense.forward(theta0, x, false, { gates: channelGates(bits) }).logits.dataSync() as Float32Array);
    const got = tf.tidy(() => small.model.forward(small.params, x, false).logits.dataSync() as Float32Array);
    expect(relErr(got, ref)).toBeLessThan(1e-5);

    // The trained checkpoint loads into the shrunk zoo model and reproduces the reported accuracy.
    const ck = loadCheckpoint(path.join(dir, 'train', 'checkpoint.safetensors'), small.model);
    const acc = (await evaluate(small.model, ck.params, loadDataset('mnist'), loadDataset('mnist').test)).accuracy;
    expect(acc).toBe(report.test_accuracy);
    expect(acc).toBeGreaterThan(0.8);
    tf.dispose([x, ...Object.values(theta0), ...Object.values(small.params), ...Object.values(ck.params)]);
  });

  it('is deterministic: same config and seed → identical channels', async () => {
    const backend = await initBackend('wasm');
    const config = { ...base, model: 'resnet20', width: 4, dataset: 'synthetic:12x12x3:4:64', samplesPerClass: 4, density: 0.4 };
    const a = path.join(tmp(), 'a');
    const b = path.join(tmp(), 'b');
    const ra = await runPrune(config, { out: a, backend });
    await runPrune(config, { out: b, backend });
    expect(fs.readFileSync(path.join(a, 'channels.json'), 'utf8')).toBe(fs.readFileSync(path.join(b, 'channels.json'), 'utf8'));
    expectSameFile(path.join(a, 'shrunk.safetensors'), path.join(b, 'shrunk.safetensors'));
    // resnet20 w4: stem 4, stage2 8, stage3 16, 9 inner groups (3×4, 3×8, 3×16) = 112 channels.
    expect(ra.report.structured!.groups.reduce((n, g) => n + g.kept, 0)).toBe(Math.round(0.4 * 112));
  });

  for (const [name, args, pattern] of [
    ['a model without channel structure', ['--model', 'lenet300', '--density', '0.5'], /lenet300 has no channel structure/],
    [
      'a density that would empty a layer',
      ['--model', 'lenet5', '--density', '0.04'],
      /--density 0.04 keeps 1 of 22 channels, which would empty a layer.*--density ≥ 0.0909/,
    ],
    [
      'a criterion without a channel score',
      ['--model', 'lenet5', '--density', '0.5', '--criterion', 'grasp'],
      /--structured scores channels with crop, snip, random, not 'grasp'/,
    ],
    ['a layer allocation', ['--model', 'lenet5', '--density', '0.5', '--allocation', 'erk'], /drop --allocation/],
  ] as const) {
    it(`bad input: ${name} → one line, exit 2, nothing written`, () => {
      const out = path.join(tmp(), 'out');
      const criterion = (args as readonly string[]).includes('--criterion') ? [] : ['--criterion', 'crop'];
      const r = run('prune', '--structured', ...criterion, ...args, '--out', out);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
      expect(fs.existsSync(out)).toBe(false);
    });
  }
});
