import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FASHION_MNIST_DIR } from '../../src/data/registry.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { loadSafetensors } from '../../src/io/safetensors.ts';
import { createModel } from '../../src/models/index.ts';
import { Binary, Field, Int32, List, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { writeArrowFile } from '../../src/io/arrow.ts';
import { MASK_FORMAT, packBits, writeMaskFile } from '../../src/masks/mask-file.ts';
import { resolveTrainConfig } from '../../src/cli/commands/train.ts';
import { runTraining } from '../../src/train/run.ts';
import { Rng } from '../../src/util/rng.ts';

const bin = path.resolve(import.meta.dirname, '../../bin/pipeline.mjs');
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, PIPELINE_QUIET: '1' } });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-cli-'));

const lenet300Masks = () =>
  new Map([
    ['fc1', new Uint8Array(784 * 300).fill(1)],
    ['fc2', new Uint8Array(300 * 100).fill(1)],
    ['fc3', new Uint8Array(100 * 10).fill(1)],
  ]);

/** A mask file written row by row as given (layer, shape, kept; every bit set), bypassing writeMaskFile's checks. */
function maskArgs(dir: string, rows: Array<[string, number[], number]>): string[] {
  const mask = path.join(dir, 'm.arrow');
  const table = new Table({
    layer: vectorFromArray(
      rows.map((r) => r[0]),
      new Utf8(),
    ),
    shape: vectorFromArray(
      rows.map((r) => r[1]),
      new List(new Field('item', new Int32(), false)),
    ),
    kept: vectorFromArray(
      rows.map((r) => r[2]),
      new Int32(),
    ),
    bits: vectorFromArray(
      rows.map((r) => packBits(new Uint8Array(r[1][0]! * r[1][1]!).fill(1))),
      new Binary(),
    ),
  });
  writeArrowFile(mask, table, { format: MASK_FORMAT });
  return ['--model', 'lenet300', '--mask', mask];
}

describe('pipeline train: bad input is one line, exit 2, and no output', () => {
  const cases: Array<[string, (dir: string) => string[], RegExp]> = [
    [
      'unknown preset key',
      (dir) => {
        const preset = path.join(dir, 'p.json');
        fs.writeFileSync(preset, JSON.stringify({ model: 'lenet300', epocs: 3 }));
        return ['--config', preset];
      },
      /unknown key\(s\) 'epocs'/,
    ],
    ['unknown model', () => ['--model', 'lenet7'], /unknown model 'lenet7'/],
    ['missing CIFAR directory', (dir) => ['--model', 'resnet18', '--dataset', 'cifar10', '--data-dir', path.join(dir, 'nope')], /pipeline data fetch cifar10/],
    [
      'mask that does not fit the model',
      (dir) => {
        const mask = path.join(dir, 'm.arrow');
        writeMaskFile(mask, new Map([['fc1', new Uint8Array(10)]]), new Map([['fc1', [2, 5]]]));
        return ['--model', 'lenet300', '--mask', mask];
      },
      /mask 'fc1' has 10 entries but the tensor has 235200/,
    ],
    [
      'mask file without some of the model’s tensors',
      (dir) => {
        const mask = path.join(dir, 'm.arrow');
        writeMaskFile(mask, new Map([['fc1', new Uint8Array(784 * 300).fill(1)]]), new Map([['fc1', [784, 300]]]));
        return ['--model', 'lenet300', '--mask', mask];
      },
      /no mask for fc2, fc3 of lenet300/,
    ],
    [
      'mask of the tensor’s size but another shape',
      (dir) => {
        const mask = path.join(dir, 'm.arrow');
        writeMaskFile(
          mask,
          lenet300Masks(),
          new Map([
            ['fc1', [300, 784]],
            ['fc2', [300, 100]],
            ['fc3', [100, 10]],
          ]),
        );
        return ['--model', 'lenet300', '--mask', mask];
      },
      /mask 'fc1' has shape 300×784 but the tensor is 784×300/,
    ],
    [
      'a tensor listed twice',
      (dir) =>
        maskArgs(dir, [
          ['fc1', [784, 300], 784 * 300],
          ['fc2', [300, 100], 300 * 100],
          ['fc1', [784, 300], 784 * 300],
          ['fc3', [100, 10], 1000],
        ]),
      /mask 'fc1' appears twice \(rows 0 and 2\)/,
    ],
    [
      'a kept count that is not the bits set',
      (dir) =>
        maskArgs(dir, [
          ['fc1', [784, 300], 5],
          ['fc2', [300, 100], 300 * 100],
          ['fc3', [100, 10], 1000],
        ]),
      /mask 'fc1' says kept 5 but has 235200 bits set/,
    ],
  ];
  for (const [name, args, pattern] of cases) {
    it(name, () => {
      const dir = tmp();
      const out = path.join(dir, 'out');
      const r = run('train', ...args(dir), '--out', out);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
      expect(fs.existsSync(out)).toBe(false);
    });
  }
});

describe('training recipes', () => {
  it('a model/dataset pair without a preset trains from the default recipe, and says so once it succeeded', () => {
    const out = path.join(tmp(), 'out');
    const r = run('train', '--model', 'lenet300', '--width', '0.25', '--dataset', 'synthetic', '--steps', '2', '--out', out);
    expect(r.status).toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('pipeline:'))).toEqual([
      'pipeline: note: no pipelines/train-lenet300-synthetic.json: lenet300 on synthetic trains from the default recipe (SGD lr 0.05, momentum 0.9, weight decay 1e-4, cosine, batch 64, 3 epochs) under the given keys',
    ]);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest.resolved.optimizer).toMatchObject({ type: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
    expect(manifest.resolved.schedule.type).toBe('cosine');
  });
});

describe('default presets reach the accuracy PyTorch reaches on the same split', () => {
  it('lenet300 on mnist, 3 epochs: ≥ 93% (PyTorch: 93.5–94.5%)', async () => {
    const backend = await initBackend('wasm');
    const r = await runTraining({ config: resolveTrainConfig({ model: 'lenet300', dataset: 'mnist', epochs: 3 }), out: tmp(), backend });
    expect(r.final!.test_accuracy).toBeGreaterThanOrEqual(0.93);
  });

  it('lenet5 on mnist, 5 epochs: ≥ 95% (PyTorch: 95.5–97%)', async () => {
    const backend = await initBackend('wasm');
    const dir = tmp();
    const r = await runTraining({ config: resolveTrainConfig({ model: 'lenet5', dataset: 'mnist', epochs: 5 }), out: dir, backend });
    expect(r.final!.test_accuracy).toBeGreaterThanOrEqual(0.95);
    for (const f of ['metrics.jsonl', 'checkpoint.safetensors', 'result.json', 'manifest.json', 'DONE']) expect(fs.existsSync(path.join(dir, f))).toBe(true);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.backend.name).toBe('wasm');
    // A finished directory is not recomputed.
    const again = await runTraining({ config: resolveTrainConfig({ model: 'lenet5', dataset: 'mnist', epochs: 5 }), out: dir, backend });
    expect(again.skipped).toBe(true);
    expect(again.final!.test_accuracy).toBe(r.final!.test_accuracy);
  });

  const fashion = fs.existsSync(FASHION_MNIST_DIR);
  it.skipIf(!fashion)(
    `lenet5 on fashion-mnist, default preset: ≥ 85%${fashion ? '' : ' (skipped: install the Debian package dataset-fashion-mnist)'}`,
    async () => {
      const backend = await initBackend('wasm');
      const r = await runTraining({ config: resolveTrainConfig({ model: 'lenet5', dataset: 'fashion-mnist' }), out: tmp(), backend });
      expect(r.final!.test_accuracy).toBeGreaterThanOrEqual(0.85);
    },
    300_000,
  );

  it('training under a mask keeps the pruned weights at zero in the final checkpoint', async () => {
    const backend = await initBackend('wasm');
    const model = createModel('lenet300');
    const dir = tmp();
    // Random, not a lattice: i % k patterns line up with row lengths and cut whole units/classes off.
    const rng = new Rng(7);
    const masks = new Map(model.prunable.map((p) => [p.name, Uint8Array.from({ length: p.size }, () => (rng.next() < 0.5 ? 1 : 0))]));
    const maskFile = path.join(dir, 'masks.arrow');
    writeMaskFile(maskFile, masks, new Map(model.prunable.map((p) => [p.name, p.shape])));
    const r = await runTraining({
      config: resolveTrainConfig({ model: 'lenet300', dataset: 'mnist', epochs: 1 }),
      maskFile,
      out: path.join(dir, 'run'),
      backend,
    });
    const kept = [...masks.values()].reduce((n, m) => n + m.reduce((a, b) => a + b, 0), 0);
    expect(r.density).toBeCloseTo(kept / model.prunable.reduce((n, p) => n + p.size, 0), 10);
    expect(r.final!.test_accuracy).toBeGreaterThan(0.8);
    const { tensors } = loadSafetensors(path.join(dir, 'run', 'checkpoint.safetensors'));
    for (const p of model.prunable) {
      const w = tensors[p.name].data as Float32Array;
      let nonzeroKept = 0;
      for (let i = 0; i < p.size; i++) {
        if (!masks.get(p.name)![i]) expect(Math.abs(w[i])).toBe(0);
        else if (w[i] !== 0) nonzeroKept++;
      }
      expect(nonzeroKept).toBe(masks.get(p.name)!.reduce((a, b) => a + b, 0));
    }
  });
});
