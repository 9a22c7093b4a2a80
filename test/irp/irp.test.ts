import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expectSameFile } from '../helpers/bytes.ts';
import { describe, expect, it } from 'vitest';
import { runAsync } from '../helpers/cli.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { readArrowFile } from '../../src/io/arrow.ts';
import { parseIrpConfig } from '../../src/irp/config.ts';
import { runIrp } from '../../src/irp/run.ts';
import { createModel, initParams } from '../../src/models/index.ts';
import { readMaskFile } from '../../src/masks/mask-file.ts';
import { runPrune } from '../../src/prune/run.ts';
import { parseTrainConfig } from '../../src/train/config.ts';

const bin = path.resolve(import.meta.dirname, '../../bin/pipeline.mjs');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-irp-'));
const cli = (...args: string[]) => runAsync(process.execPath, [bin, ...args], { ...process.env, PIPELINE_QUIET: '1' });

const small = {
  model: 'lenet300',
  width: 0.5,
  dataset: 'mnist',
  rounds: 4,
  finalDensity: 0.05,
  epochsPerRound: 1,
  train: { batchSize: 128, optimizer: { lr: 0.05 } },
};

describe('pipeline irp on lenet300 / embedded mnist', () => {
  it('writes a survival table with one row per weight, the schedule’s histogram and θ₀ features', async () => {
    const backend = await initBackend('wasm');
    const dir = path.join(tmp(), 'run');
    const config = parseIrpConfig(small, 'test');
    const r = await runIrp(config, { out: dir, backend });
    expect(r.rounds).toHaveLength(4);
    const file = path.join(dir, 'survival.arrow');
    const bytes = fs.readFileSync(file);
    expect(bytes.subarray(0, 6).toString()).toBe('ARROW1'); // IPC file format, readable by pyarrow/polars
    expect(bytes.subarray(bytes.length - 6).toString()).toBe('ARROW1');
    const t = readArrowFile(file);
    const model = createModel('lenet300', { width: 0.5 });
    const n = model.prunable.reduce((s, p) => s + p.size, 0);
    expect(t.numRows).toBe(n);
    expect(t.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
      'layer:Dictionary<Int32, Utf8>',
      'index:Int32',
      'theta:Float32',
      'grad:Float32',
      'hg:Float32',
      'rounds_survived:Uint8',
      'score:Float32',
      'final_score:Float32',
    ]);
    const meta = t.schema.metadata;
    for (const key of ['model', 'width', 'dataset', 'criterion', 'schedule', 'rounds', 'densities', 'seed', 'backend', 'package_version', 'layers'])
      expect(meta.has(key)).toBe(true);
    expect(JSON.parse(meta.get('densities')!)).toEqual(
      [1 - 0.95 / 4, 1 - 0.95 / 2, 1 - (3 * 0.95) / 4, 0.05].map((d, i) => (i === 3 ? d : expect.closeTo(d, 12))),
    );
    // Equal-count: each value 0..E−1 holds (1 − d)·N/E weights (±1 rounding), E holds d·N.
    const c = t.getChild('rounds_survived')!.toArray() as Uint8Array;
    const hist = new Array(5).fill(0);
    for (const v of c) hist[v]++;
    for (let v = 0; v < 4; v++) expect(Math.abs(hist[v] - (0.95 * n) / 4)).toBeLessThanOrEqual(1);
    expect(hist[4]).toBe(Math.round(0.05 * n));
    const score = t.getChild('score')!.toArray() as Float32Array;
    for (let i = 0; i < n; i += 1013) expect(score[i]).toBe(Math.fround(c[i] / 4));
    // theta is θ₀ of the dense network, in layer order.
    const theta = t.getChild('theta')!.toArray() as Float32Array;
    const theta0 = initParams(model, 0);
    expect(Array.from(theta.subarray(0, 1000))).toEqual(Array.from(theta0.fc1.dataSync().subarray(0, 1000)));
    const layer = t.getChild('layer')!;
    expect(layer.get(0)).toBe('fc1');
    expect(layer.get(n - 1)).toBe('fc3');
    // The lottery ticket at the final density is exactly the last round's mask.
    const lt = await runPrune(
      {
        criterion: 'lottery',
        table: file,
        model: 'lenet300',
        width: 0.5,
        dataset: 'mnist',
        density: 0.05,
        scope: 'global',
        samplesPerClass: 10,
        seed: 0,
        temperature: 200,
        dumpScores: false,
      },
      { out: path.join(dir, 'lt'), backend },
    );
    const ltMasks = readMaskFile(path.join(lt.dir, 'masks.arrow'));
    const last = readMaskFile(path.join(dir, 'round-03', 'masks.arrow'));
    for (const p of model.prunable) expect(Array.from(ltMasks.get(p.name)!)).toEqual(Array.from(last.get(p.name)!));
    // A ticket is its mask and its θ₀: trained with the round's recipe and seed it is the last round itself,
    // and under another job seed it still starts from the table's θ₀ (only the data order changes).
    const recipe = parseTrainConfig({ model: 'lenet300', width: 0.5, dataset: 'mnist', epochs: 1, seed: 0, ...config.train }, 'test');
    const ticket = (seed: number) =>
      runPrune(
        {
          criterion: 'lottery',
          table: file,
          model: 'lenet300',
          width: 0.5,
          dataset: 'mnist',
          density: 0.05,
          scope: 'global',
          samplesPerClass: 10,
          seed,
          temperature: 200,
          dumpScores: false,
          train: { ...recipe, seed },
        },
        { out: path.join(dir, `lt-train-${seed}`), backend },
      );
    const t0 = await ticket(0);
    expect(t0.report.test_accuracy).toBe(r.rounds[3].test_accuracy);
    const t1 = await ticket(1);
    expect(t1.report.init_seed).toBe(0);
    expect(t1.report.seed).toBe(1);
    expect(t1.report.test_accuracy).not.toBe(r.rounds[3].test_accuracy);
    // A finished run is skipped.
    const again = await runIrp(config, { out: dir, backend });
    expect(again.skipped).toBe(true);
  });

  it('--scope layer: every tensor keeps each round’s density; without it the config (and its hash) has no scope key', async () => {
    const backend = await initBackend('wasm');
    expect('scope' in parseIrpConfig(small, 'test')).toBe(false);
    const config = parseIrpConfig({ ...small, rounds: 2, finalDensity: 0.1, scope: 'layer', train: { ...small.train, batchSize: 256 } }, 'test');
    const dir = path.join(tmp(), 'run');
    await runIrp(config, { out: dir, backend });
    const t = readArrowFile(path.join(dir, 'survival.arrow'));
    expect(t.schema.metadata.get('scope')).toBe('layer');
    const model = createModel('lenet300', { width: 0.5 });
    for (const [round, d] of [
      [0, 0.55],
      [1, 0.1],
    ] as const) {
      const masks = readMaskFile(path.join(dir, `round-0${round}`, 'masks.arrow'));
      for (const p of model.prunable)
        expect(Math.abs(masks.get(p.name)!.reduce((a, b) => a + b, 0) - d * p.size), `${p.name} round ${round}`).toBeLessThanOrEqual(1);
    }
  });

  it('a SIGKILL in the middle of a round, then resuming, gives a byte-identical table', async () => {
    const root = tmp();
    const preset = path.join(root, 'irp.json');
    fs.writeFileSync(preset, JSON.stringify({ ...small, rounds: 2, epochsPerRound: 2 }));
    const full = path.join(root, 'full');
    const killed = path.join(root, 'killed');
    expect((await cli('irp', '--config', preset, '--out', full)).status).toBe(0);
    // Kill once round 1 has checkpointed its first of two epochs.
    const child = spawn(process.execPath, [bin, 'irp', '--config', preset, '--out', killed], { stdio: 'ignore', env: { ...process.env, PIPELINE_QUIET: '1' } });
    const marker = path.join(killed, 'round-01', 'train', 'checkpoint.safetensors');
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (fs.existsSync(marker)) {
          clearInterval(timer);
          child.kill('SIGKILL');
          resolve();
        }
      }, 20);
      child.on('exit', () => {
        clearInterval(timer);
        reject(new Error('the run finished before it could be killed'));
      });
    });
    await new Promise((r) => child.on('exit', r));
    expect(fs.existsSync(path.join(killed, 'survival.arrow'))).toBe(false);
    const resumed = await cli('irp', '--config', preset, '--out', killed);
    expect(resumed.status, resumed.stderr).toBe(0);
    expectSameFile(path.join(killed, 'survival.arrow'), path.join(full, 'survival.arrow'));
  });

  it('smoke: resnet18 (width 4) on synthetic 32×32 data, 2 rounds', async () => {
    const backend = await initBackend('wasm');
    const config = parseIrpConfig(
      {
        model: 'resnet18',
        width: 4,
        dataset: 'synthetic:32x32x3:10:200',
        rounds: 2,
        finalDensity: 0.2,
        epochsPerRound: 1,
        rewind: 'epoch:1',
        samplesPerClass: 2,
        train: { batchSize: 50 },
      },
      'test',
    );
    const r = await runIrp(config, { out: path.join(tmp(), 'run'), backend });
    expect(r.rounds.map((x) => x.density)).toEqual([0.6, 0.2]);
    const t = readArrowFile(path.join(r.dir, 'survival.arrow'));
    expect(t.numRows).toBe(createModel('resnet18', { width: 4 }).prunable.reduce((s, p) => s + p.size, 0));
    expect(fs.existsSync(path.join(r.dir, 'dense', 'rewind.safetensors'))).toBe(true);
  });

  for (const [name, extra, pattern] of [
    ['rounds < 1', ['--rounds', '0'], /--rounds must be an integer ≥ 1, got '0'/],
    ['final density 1', ['--final-density', '1'], /--final-density must be in \(0, 1\), got '1'/],
    ['final density 0', ['--final-density', '0'], /--final-density must be in \(0, 1\), got '0'/],
    ['rewind epoch beyond training', ['--rewind', 'epoch:5'], /rewind epoch 5 is beyond the 1 training epochs/],
  ] as const) {
    it(`bad input: ${name} → one line, exit 2, nothing written`, async () => {
      const out = path.join(tmp(), 'out');
      const r = await cli('irp', '--model', 'lenet300', '--epochs-per-round', '1', ...extra, '--out', out);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
      expect(fs.existsSync(out)).toBe(false);
    });
  }

  it('bad input: a directory holding a different config’s run is refused and left as it was', async () => {
    const out = path.join(tmp(), 'out');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify({ model: 'vgg11' }));
    const r = await cli('irp', '--model', 'lenet300', '--epochs-per-round', '1', '--out', out);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/different configuration/);
    expect(fs.readdirSync(out)).toEqual(['config.json']);
  });
});
