import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';
import { createModel, initParams } from '../../src/models/index.ts';
import { getCriterion } from '../../src/scoring/criteria/index.ts';
import { plateauEpoch, relativeDistance } from '../../src/prune/early.ts';
import type { ScoringBatches } from '../../src/scoring/features.ts';
import { runPrune } from '../../src/prune/run.ts';
import { resolveTrainConfig } from '../../src/cli/commands/train.ts';

describe('EarlyCroP pieces', () => {
  it('the plateau trigger fires at the first epoch whose distance step falls below τ = d₂·(1 − density)', () => {
    // d: 0, 0.40, 0.62, 0.75, 0.80, 0.81 → steps 0.22, 0.13, 0.05, 0.01; τ = 0.40 · 0.9 = 0.36 at 10% density
    const d = [0, 0.4, 0.62, 0.75, 0.8, 0.81];
    expect(plateauEpoch(d, 0.1, 50)).toBe(3);
    // At 99% density τ = 0.004: no step is that small, so the trigger waits…
    expect(plateauEpoch(d, 0.99, 50)).toBeNull();
    // …until the cap.
    expect(plateauEpoch(d, 0.99, 6)).toBe(6);
    expect(plateauEpoch([0, 0.5, 0.9, 1.2, 1.25], 0.5, 20)).toBe(5); // τ = 0.25: steps 0.4, 0.3, 0.05
    expect(plateauEpoch([0], 0.5, 20)).toBeNull();
  });

  it('relative distance is ‖W − W₁‖ / ‖W₁‖ over all tensors', () => {
    expect(relativeDistance([Float32Array.from([3, 4]), Float32Array.from([0])], [Float32Array.from([0, 0]), Float32Array.from([5])])).toBeCloseTo(
      Math.SQRT2,
      12,
    ); // √(9 + 16 + 25) / 5
  });

  it('crop scores |θ ⊙ Hg| at T = 1 in BN eval mode, i.e. grasp-abs with those settings', async () => {
    await initBackend('wasm');
    const model = createModel('resnet20', { width: 2, inputShape: [8, 8, 3], numClasses: 4 });
    const params = initParams(model, 3);
    const data: ScoringBatches = {
      n: 8,
      chunks: function* () {
        yield { x: tf.randomNormal([8, 8, 8, 3], 0, 1, 'float32', 5) as tf.Tensor4D, y: tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32') };
      },
    };
    const c = getCriterion('crop');
    expect(c.defaultBnMode).toBe('eval');
    expect(c.defaultIterations).toBe(5);
    const a = await c.score({ model, params, data, bnMode: 'eval', seed: 0, round: 0, temperature: 200 });
    const b = await getCriterion('grasp-abs').score({ model, params, data, bnMode: 'eval', seed: 0, round: 0, temperature: 1 });
    for (const p of model.prunable) expect(Array.from(a.scores.get(p.name)!)).toEqual(Array.from(b.scores.get(p.name)!));
    expect(Math.max(...a.scores.get('fc')!)).toBeGreaterThan(0);
  });
});

describe('pipeline prune --when', () => {
  const base = { model: 'lenet300', width: 0.5, dataset: 'mnist', scope: 'global' as const, samplesPerClass: 10, seed: 0, temperature: 200, dumpScores: false };
  const trainCfg = (epochs: number) => resolveTrainConfig({ model: 'lenet300', width: 0.5, dataset: 'mnist', epochs });
  const freshDir = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-when-')), 'run');

  it('epoch:K prunes the weights trained for K dense epochs, then trains the rest', async () => {
    const backend = await initBackend('wasm');
    const dir = freshDir();
    const { report } = await runPrune({ ...base, criterion: 'crop', density: 0.1, train: trainCfg(3), when: 'epoch:1' }, { out: dir, backend });
    expect(report.pruned_at_epoch).toBe(1);
    expect(report.iterations).toBe(5);
    expect(
      fs
        .readFileSync(path.join(dir, 'dense', 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(1);
    expect(
      fs
        .readFileSync(path.join(dir, 'train', 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(2);
    expect(report.test_accuracy).toBeGreaterThan(0.85);
  });

  it('early prunes at the plateau epoch computed from the recorded distances', async () => {
    const backend = await initBackend('wasm');
    const dir = freshDir();
    const { report } = await runPrune({ ...base, criterion: 'magnitude', density: 0.1, train: trainCfg(5), when: 'early' }, { out: dir, backend });
    const decision = JSON.parse(fs.readFileSync(path.join(dir, 'dense', 'pruned_at.json'), 'utf8'));
    expect(decision.distances[0]).toBe(0);
    expect(report.pruned_at_epoch).toBe(decision.epoch);
    expect(report.pruned_at_epoch).toBe(plateauEpoch(decision.distances, 0.1, 4));
    expect(report.pruned_at_epoch).toBeGreaterThanOrEqual(3);
    expect(report.pruned_at_epoch).toBeLessThanOrEqual(4);
  });
});
