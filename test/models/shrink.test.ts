import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';
import { createModel, initParams, type Model, type ParamMap } from '../../src/models/index.ts';
import { channelGates, type ChannelKeep, flopsPerExample, shrinkModel } from '../../src/models/shrink.ts';
import { Rng } from '../../src/util/rng.ts';
import { relErr, randn } from '../engine/helpers.ts';

/** θ₀ with random BN statistics and affine terms, so eval-mode BN and biases are not identities. */
function randomParams(model: Model, seed: number): ParamMap {
  const p = initParams(model, seed);
  model.specs.forEach((s, i) => {
    if (s.kind === 'bn-var') p[s.name] = tf.add(tf.abs(randn(s.shape, seed + i)), 0.5);
    else if (s.kind.startsWith('bn') || s.kind === 'bias') p[s.name] = randn(s.shape, seed + i, 0.5);
  });
  return p;
}

/** Keeps a random ~half of every group (at least one channel). */
function randomKeep(model: Model, seed: number): { keep: ChannelKeep; bits: Map<string, Uint8Array> } {
  const rng = new Rng(seed);
  const keep: ChannelKeep = new Map();
  const bits = new Map<string, Uint8Array>();
  for (const g of model.channelGroups) {
    const b = Uint8Array.from({ length: g.size }, () => (rng.next() < 0.5 ? 1 : 0));
    if (!b.some((v) => v)) b[Math.floor(rng.next() * g.size)] = 1;
    bits.set(g.name, b);
    keep.set(
      g.name,
      [...b.keys()].filter((i) => b[i]),
    );
  }
  return { keep, bits };
}

const cases: Array<[string, number, [number, number, number], boolean?]> = [
  ['lenet5', 1, [28, 28, 1], true],
  ['vgg11', 8, [32, 32, 3]],
  ['resnet18', 4, [16, 16, 3]],
  ['lenet5', 1, [28, 28, 1]],
  ['resnet20', 4, [12, 12, 3]],
];

describe('structural shrink', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  for (const [name, width, inputShape, batchNorm] of cases) {
    it(`${name}${batchNorm ? ' (BN)' : ''}: the shrunk model computes the zero-gated model's function (train and eval BN)`, () => {
      const model = createModel(name, { width, inputShape, batchNorm });
      const params = randomParams(model, 3);
      const { keep, bits } = randomKeep(model, 7);
      const small = shrinkModel(model, params, keep);
      const x = randn([4, ...inputShape], 11) as tf.Tensor4D;
      const gates = channelGates(bits);
      for (const training of [false, true]) {
        const ref = tf.tidy(() => model.forward(params, x, training, { gates }).logits.dataSync() as Float32Array);
        const got = tf.tidy(() => small.model.forward(small.params, x, training).logits.dataSync() as Float32Array);
        expect(relErr(got, ref)).toBeLessThan(1e-5);
        expect(got.length).toBe(4 * 10);
      }
      // The gates matter: the ungated dense net computes something else.
      const ungated = tf.tidy(() => model.forward(params, x, false).logits.dataSync() as Float32Array);
      const shrunk = tf.tidy(() => small.model.forward(small.params, x, false).logits.dataSync() as Float32Array);
      expect(relErr(shrunk, ungated)).toBeGreaterThan(1e-3);
      // Every group's count is what was kept; every tensor is strictly smaller or equal.
      for (const g of small.model.channelGroups) expect(g.size).toBe(keep.get(g.name)!.length);
      for (const s of small.model.specs) {
        const old = model.specs.find((o) => o.name === s.name)!;
        s.shape.forEach((d, i) => expect(d).toBeLessThanOrEqual(old.shape[i]));
      }
      tf.dispose([x, ...Object.values(gates), ...Object.values(params), ...Object.values(small.params)]);
    });
  }

  it('residual joins share one group: resnet18 stage streams and stem', () => {
    const m = createModel('resnet18', { width: 4 });
    const groupOf = (t: string) => m.specs.find((s) => s.name === t)!.channels!.out;
    expect(groupOf('stem.conv')).toBe('stem');
    expect(groupOf('stage1.block0.conv2')).toBe('stem');
    expect(groupOf('stage1.block1.conv2')).toBe('stem');
    for (const s of [2, 3, 4]) {
      expect(groupOf(`stage${s}.block0.shortcut`)).toBe(`stage${s}`);
      expect(groupOf(`stage${s}.block0.conv2`)).toBe(`stage${s}`);
      expect(groupOf(`stage${s}.block1.conv2`)).toBe(`stage${s}`);
    }
    expect(groupOf('stage2.block1.conv1')).toBe('stage2.block1.conv1');
    // 1 stem stream + 3 stage streams + 8 block-inner groups.
    expect(m.channelGroups.length).toBe(12);
    expect(m.specs.find((s) => s.name === 'fc')!.channels!.in).toBe('stage4');
  });

  it('a shrunk model is an ordinary zoo model: rebuilt from its config it has the same tensors', () => {
    const model = createModel('vgg11', { width: 8 });
    const params = initParams(model, 0);
    const { keep } = randomKeep(model, 1);
    const small = shrinkModel(model, params, keep);
    const rebuilt = createModel('vgg11', { width: 8, channels: small.model.config.channels });
    expect(rebuilt.specs.map((s) => `${s.name}:${s.shape}`)).toEqual(small.model.specs.map((s) => `${s.name}:${s.shape}`));
    tf.dispose([...Object.values(params), ...Object.values(small.params)]);
  });

  it('FLOPs per example match the closed form (lenet5, vgg11)', () => {
    const lenet = createModel('lenet5');
    const lp = initParams(lenet, 0);
    // conv1 28·28·6·25·1, conv2 10·10·16·25·6, fc 400·120 + 120·84 + 84·10 MACs.
    expect(flopsPerExample(lenet, lp)).toBe(2 * (28 * 28 * 6 * 25 + 10 * 10 * 16 * 25 * 6 + 400 * 120 + 120 * 84 + 84 * 10));
    const v = createModel('vgg11', { width: 64, channels: { 'features.conv0': 32 } });
    const vp = initParams(v, 0);
    const expected =
      32 * 32 * 9 * 3 * 32 +
      16 * 16 * 9 * 32 * 128 +
      8 * 8 * 9 * (128 * 256 + 256 * 256) +
      4 * 4 * 9 * (256 * 512 + 512 * 512) +
      2 * 2 * 9 * (512 * 512 + 512 * 512) +
      512 * 10;
    expect(flopsPerExample(v, vp)).toBe(2 * expected);
    tf.dispose([...Object.values(lp), ...Object.values(vp)]);
  });

  it('a channel plan naming an unknown group or a non-positive count is a usage error', () => {
    expect(() => createModel('lenet5', { channels: { conv3: 2 } })).toThrow(/no channel group conv3/);
    expect(() => createModel('lenet5', { channels: { conv1: 0 } })).toThrow(/positive integer channel count/);
    expect(createModel('lenet300').channelGroups).toEqual([]);
  });
});
