import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveTrainConfig } from '../../src/cli/commands/train.ts';
import { initBackend, shutdownBackend } from '../../src/engine/backend.ts';
import { readArrowFile } from '../../src/io/arrow.ts';
import { parseIrpConfig } from '../../src/irp/config.ts';
import { runIrp } from '../../src/irp/run.ts';
import { readMaskFile } from '../../src/masks/mask-file.ts';
import { runPrune } from '../../src/prune/run.ts';
import type { PruneConfig } from '../../src/prune/config.ts';

// Prune at init and train one epoch, end to end, on webgpu (lavapipe in CI) and on wasm: the masks
// must be the same and the training curves agree to float32 rounding.
afterAll(() => shutdownBackend());

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-webgpu-e2e-'));

async function pruneAndTrain(backendName: string, label: string, config: PruneConfig) {
  const backend = await initBackend(backendName);
  const dir = path.join(tmp, `${label}-${backendName}`);
  const { report } = await runPrune(config, { out: dir, backend });
  const metrics = fs
    .readFileSync(path.join(dir, 'train', 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  return { report, masks: readMaskFile(path.join(dir, 'masks.arrow')), metrics };
}

const cases: Array<[string, PruneConfig]> = [
  [
    'lenet5',
    {
      criterion: 'grasp',
      model: 'lenet5',
      dataset: 'synthetic:28x28x1:10:256',
      density: 0.1,
      scope: 'global',
      samplesPerClass: 4,
      seed: 0,
      temperature: 200,
      dumpScores: false,
      train: resolveTrainConfig({ model: 'lenet5', dataset: 'mnist', epochs: 1, batchSize: 64 }),
    },
  ],
  [
    'resnet20-w4',
    {
      criterion: 'snip',
      model: 'resnet20',
      width: 4,
      dataset: 'synthetic:16x16x3:10:256',
      density: 0.2,
      scope: 'global',
      samplesPerClass: 4,
      seed: 0,
      temperature: 200,
      dumpScores: false,
      train: resolveTrainConfig({ model: 'resnet20', dataset: 'synthetic:16x16x3:10:256', width: 4, epochs: 1, batchSize: 64 }),
    },
  ],
];

describe('webgpu end to end: prune at init + 1 training epoch', () => {
  for (const [label, config] of cases) {
    it(`${label}: same mask as wasm, same training losses to float32 rounding`, async () => {
      const wasm = await pruneAndTrain('wasm', label, config);
      const gpu = await pruneAndTrain('webgpu', label, config);
      expect(gpu.report.layers).toEqual(wasm.report.layers);
      for (const [name, m] of wasm.masks) expect(Buffer.compare(Buffer.from(gpu.masks.get(name)!), Buffer.from(m)), name).toBe(0);
      expect(gpu.metrics.length).toBe(wasm.metrics.length);
      // Measured: losses agree to ~2e-7 relative, accuracies exactly.
      for (const [i, row] of wasm.metrics.entries()) {
        for (const key of ['train_loss', 'test_loss']) {
          expect(Number.isFinite(row[key]), key).toBe(true);
          expect(Math.abs(gpu.metrics[i][key] - row[key]) / Math.abs(row[key]), key).toBeLessThan(1e-5);
        }
        expect(gpu.metrics[i].train_accuracy).toBe(row.train_accuracy);
        expect(gpu.metrics[i].test_accuracy).toBe(row.test_accuracy);
      }
    });
  }
});

describe('webgpu end to end: SynFlow, structured channel pruning, IRP', () => {
  it('SynFlow (data-free, 5 rounds) and CroP channel pruning keep what wasm keeps', async () => {
    const common = {
      model: 'resnet20',
      width: 4,
      dataset: 'synthetic:16x16x3:10:64',
      scope: 'global' as const,
      samplesPerClass: 2,
      seed: 1,
      temperature: 200,
      dumpScores: false,
    };
    for (const [label, config] of [
      ['synflow', { ...common, criterion: 'synflow', density: 0.1, iterations: 5 }],
      ['structured-crop', { ...common, criterion: 'crop', density: 0.5, structured: true }],
    ] as Array<[string, PruneConfig]>) {
      const out: Record<string, { layers: unknown; channels?: string }> = {};
      for (const backendName of ['wasm', 'webgpu']) {
        const backend = await initBackend(backendName);
        const dir = path.join(tmp, `${label}-${backendName}`);
        const { report } = await runPrune(config, { out: dir, backend });
        out[backendName] = { layers: report.layers, channels: config.structured ? fs.readFileSync(path.join(dir, 'channels.json'), 'utf8') : undefined };
      }
      expect(out.webgpu, label).toEqual(out.wasm);
    }
  });

  it('IRP (2 rounds, SNIP) writes the survival table with the same survival counts and θ₀, g, Hg to 1e-4', async () => {
    const config = parseIrpConfig(
      {
        model: 'lenet5',
        width: 0.5,
        dataset: 'synthetic:28x28x1:10:128',
        criterion: 'snip',
        rounds: 2,
        finalDensity: 0.3,
        epochsPerRound: 1,
        samplesPerClass: 2,
        train: { batchSize: 64 },
      },
      'test',
    );
    const tables: Record<string, ReturnType<typeof readArrowFile>> = {};
    for (const backendName of ['wasm', 'webgpu']) {
      const backend = await initBackend(backendName);
      const dir = path.join(tmp, `irp-${backendName}`);
      await runIrp(config, { out: dir, backend });
      tables[backendName] = readArrowFile(path.join(dir, 'survival.arrow'));
    }
    const col = (b: string, name: string) => tables[b].getChild(name)!.toArray() as Float32Array;
    expect(Array.from(col('webgpu', 'rounds_survived'))).toEqual(Array.from(col('wasm', 'rounds_survived')));
    for (const name of ['theta', 'grad', 'hg']) {
      const [a, b] = [col('webgpu', name), col('wasm', name)];
      let num = 0;
      let den = 0;
      for (let i = 0; i < b.length; i++) {
        num += (a[i] - b[i]) ** 2;
        den += b[i] ** 2;
      }
      expect(Math.sqrt(num / den), name).toBeLessThan(1e-4);
    }
  });
});
