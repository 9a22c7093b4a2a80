import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/registry.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { loadSafetensors } from '../../src/io/safetensors.ts';
import { createModel, initParams } from '../../src/models/index.ts';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.ts';
import { parseTrainConfig } from '../../src/train/config.ts';
import { Optimizer } from '../../src/train/optimizer.ts';
import { train } from '../../src/train/trainer.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-train-'));

// 32×32×3 synthetic data turns augmentation on, so resume must also restore the crop/flip stream.
const dataset = loadDataset('synthetic', { synthetic: { shape: [32, 32, 3], numClasses: 4, nTrain: 96, nTest: 32, seed: 3 } });
const config = parseTrainConfig(
  {
    model: 'vgg11',
    width: 4,
    dataset: 'synthetic',
    epochs: 3,
    batchSize: 32,
    optimizer: { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
    schedule: { type: 'multistep', milestones: [1, 2], gamma: 0.5 },
  },
  'test',
);
const makeModel = () => createModel('vgg11', { width: 4, numClasses: 4 });

describe('trainer checkpoints', () => {
  it('augmentation is on for this dataset (so the test exercises its stream)', () => {
    expect(dataset.augment).toBe(true);
  });

  it('resume after a simulated kill ends bit-identical to an unbroken run', async () => {
    await initBackend('wasm');
    const model = makeModel();
    const a = tmp();
    const b = tmp();
    const full = await train({ config, configHash: 'h', model, dataset, params: initParams(model, 0), outDir: a });
    expect(full.metrics).toHaveLength(3);
    const killed = await train({
      config,
      configHash: 'h',
      model,
      dataset,
      params: initParams(model, 0),
      outDir: b,
      onEpoch: (m) => (m.epoch === 1 ? 'stop' : undefined),
    });
    expect(killed.stopped).toBe(true);
    expect(killed.metrics).toHaveLength(1);
    // Killed while appending epoch 2's record: a last line without its newline is dropped on resume.
    fs.appendFileSync(path.join(b, 'metrics.jsonl'), '{"epoch":2,"step":6,"lr":0.0');
    const resumed = await train({ config, configHash: 'h', model, dataset, params: initParams(model, 0), outDir: b, resume: true });
    expect(resumed.metrics.map((m) => m.epoch)).toEqual([1, 2, 3]);
    const ta = loadSafetensors(path.join(a, 'checkpoint.safetensors')).tensors;
    const tb = loadSafetensors(path.join(b, 'checkpoint.safetensors')).tensors;
    expect(Object.keys(tb).sort()).toEqual(Object.keys(ta).sort());
    expect(Object.keys(ta).some((k) => k.startsWith('optimizer.momentum.'))).toBe(true);
    for (const k of Object.keys(ta)) expect(Buffer.from((tb[k].data as Float32Array).buffer)).toEqual(Buffer.from((ta[k].data as Float32Array).buffer));
    const lines = fs.readFileSync(path.join(b, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).epoch)).toEqual([1, 2, 3]);
    const withoutTime = (l: string) => ({ ...JSON.parse(l), seconds: undefined });
    expect(lines.map(withoutTime)).toEqual(fs.readFileSync(path.join(a, 'metrics.jsonl'), 'utf8').trim().split('\n').map(withoutTime));
    // A damaged line that is not the last is no cut-short append: refused in one line naming it.
    fs.writeFileSync(path.join(b, 'metrics.jsonl'), [lines[0], '{"epo', lines[2]].join('\n') + '\n');
    await expect(train({ config, configHash: 'h', model, dataset, params: initParams(model, 0), outDir: b, resume: true })).rejects.toThrow(
      /metrics\.jsonl: line 2 is not an epoch's metrics record; rerun with --force/,
    );
    // Training moved the weights (the comparison above is not between two untouched inits).
    const init = initParams(model, 0);
    expect(Buffer.from(ta['features.conv0'].data.buffer)).not.toEqual(Buffer.from(init['features.conv0'].dataSync().buffer));
    tf.dispose([...Object.values(full.params), ...Object.values(resumed.params), ...Object.values(killed.params), ...Object.values(init)]);
  });

  it('training, evaluation and checkpoints leave no tensors behind but the returned parameters', async () => {
    await initBackend('wasm');
    const model = makeModel();
    const before = tf.memory().numTensors;
    const bits = Uint8Array.from({ length: model.prunable[0].size }, (_, i) => i % 3 && 1);
    const run = await train({
      config: { ...config, epochs: 1 },
      configHash: 'h',
      model,
      dataset,
      params: initParams(model, 0),
      masks: new Map([[model.prunable[0].name, bits]]),
      outDir: tmp(),
    });
    expect(tf.memory().numTensors - before).toBe(Object.keys(run.params).length);
    tf.dispose(Object.values(run.params));
  });

  it('a checkpoint round-trips parameters, optimizer state, masks and position', async () => {
    await initBackend('cpu');
    const model = makeModel();
    const params = initParams(model, 5);
    const opt = new Optimizer(config.optimizer);
    opt.step(params, { fc: tf.onesLike(params.fc) }, 0.1);
    const masks = new Map([['fc', Uint8Array.from({ length: model.prunable.at(-1)!.size }, (_, i) => i % 2)]]);
    const file = path.join(tmp(), 'c.safetensors');
    await saveCheckpoint(file, { params, optimizer: opt.getState(), masks, epoch: 7, step: 70, configHash: 'abc' });
    const back = loadCheckpoint(file, model, 'abc');
    expect(back.epoch).toBe(7);
    expect(back.step).toBe(70);
    expect(back.optimizer.t).toBe(1);
    expect(Array.from(back.masks!.get('fc')!)).toEqual(Array.from(masks.get('fc')!));
    for (const name of Object.keys(params)) expect(Array.from(back.params[name].dataSync())).toEqual(Array.from(params[name].dataSync()));
    expect(Array.from(back.optimizer.slots.momentum.fc.dataSync())).toEqual(Array.from(opt.getState().slots.momentum.fc.dataSync()));
    expect(() => loadCheckpoint(file, model, 'other')).toThrow(/different configuration/);
  });
});
