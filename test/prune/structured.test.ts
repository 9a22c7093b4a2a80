import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';
import { grad, hvp } from '../../src/engine/hvp.ts';
import * as ops from '../../src/engine/ops.ts';
import { NetBuilder } from '../../src/models/builder.ts';
import { createModel, initParams, type Model, type ParamMap } from '../../src/models/index.ts';
import type { ScoringBatches } from '../../src/scoring/features.ts';
import { channelScores } from '../../src/scoring/channels/channel-scores.ts';
import { channelBudget, selectChannels } from '../../src/scoring/channels/select-channels.ts';
import { structuredPrune } from '../../src/prune/structured/structured.ts';
import { randn, relErr } from '../engine/helpers.ts';

function sample(shape: [number, number, number], n: number, chunk: number, classes: number): ScoringBatches {
  return {
    n,
    chunks: function* () {
      const all = randn([n, ...shape], 100);
      for (let s = 0; s < n; s += chunk) {
        const m = Math.min(chunk, n - s);
        yield {
          x: tf.slice(all, s, m) as tf.Tensor4D,
          y: tf.tensor1d(
            Array.from({ length: m }, (_, i) => (s + i) % classes),
            'int32',
          ),
        };
      }
      all.dispose();
    },
  };
}

const allAlive = (model: Model) => new Map(model.channelGroups.map((g) => [g.name, new Uint8Array(g.size).fill(1)]));

/** Sum over the entries of a [.., cout] tensor (flat, channels last) that belong to output channel j. */
function channelSum(values: Float32Array, cout: number, j: number, f: (i: number) => number): number {
  let s = 0;
  for (let i = j; i < values.length; i += cout) s += f(i);
  return s;
}

describe('channel scores', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  // A gate right after a biased conv scales that channel's weights and bias: c·(W_j ∗ x + b_j). So at c = 1
  //   ∂L/∂c_j = Σ_{i∈j} θ_i g_i                                  (weights and bias)
  //   ∂⟨g, ∇_W L⟩/∂c_j = Σ_{i∈j, weights} g_i² + Σ_{i∈j} θ_i (H·(g_W, 0))_i
  // computed here with plain gradients and the hvp of the ungated net over weights and biases.
  it('lenet5 gate derivatives equal the scaling identities (snip and crop, chunked sample)', async () => {
    const model = createModel('lenet5');
    const params = initParams(model, 4);
    const data = sample([28, 28, 1], 20, 7, 10);
    const all = sample([28, 28, 1], 20, 20, 10);
    const names = ['conv1', 'conv2', 'fc1', 'fc2', 'fc3'];
    const withBias = [...names, ...names.map((n) => `${n}.bias`)];
    const [x, y] = (() => {
      const c = all.chunks()[Symbol.iterator]().next().value!;
      return [c.x, c.y];
    })();
    const loss = (ts: tf.Tensor[]) => {
      const p: ParamMap = { ...params };
      withBias.forEach((n, i) => (p[n] = ts[i]));
      return ops.crossEntropy(model.forward(p, x, false).logits, y);
    };
    const theta = withBias.map((n) => params[n]);
    const g = grad(loss, theta);
    const v = g.map((t, i) => (i < names.length ? t : tf.zerosLike(t)));
    const hv = hvp(loss, theta, v);
    const host = (ts: tf.Tensor[]) => new Map(withBias.map((n, i) => [n, ts[i].dataSync() as Float32Array]));
    const [G, HV, TH] = [host(g), host(hv), host(theta)];
    const alive = allAlive(model);
    const snip = await channelScores('snip', { model, params, data, bnMode: 'eval', alive, seed: 0, round: 0 });
    const crop = await channelScores('crop', { model, params, data, bnMode: 'eval', alive, seed: 0, round: 0 });
    for (const layer of ['conv1', 'conv2']) {
      const cout = model.specs.find((s) => s.name === layer)!.shape[3];
      const w = TH.get(layer)!;
      const b = TH.get(`${layer}.bias`)!;
      const refSnip = Array.from({ length: cout }, (_, j) =>
        Math.abs(channelSum(w, cout, j, (i) => w[i] * G.get(layer)![i]) + b[j] * G.get(`${layer}.bias`)![j]),
      );
      const refCrop = Array.from({ length: cout }, (_, j) =>
        Math.abs(channelSum(w, cout, j, (i) => G.get(layer)![i] ** 2 + w[i] * HV.get(layer)![i]) + b[j] * HV.get(`${layer}.bias`)![j]),
      );
      expect(Math.max(...refCrop)).toBeGreaterThan(1e-6);
      expect(relErr(snip.get(layer)!, refSnip)).toBeLessThan(1e-4);
      expect(relErr(crop.get(layer)!, refCrop)).toBeLessThan(1e-3);
    }
    tf.dispose([x, y, ...g, ...v, ...hv]);
  });

  it('crop channel scores on a smooth BN net with a shared residual group match finite differences', async () => {
    const config = { name: 'resnet20' as const, width: 4, inputShape: [8, 8, 3] as [number, number, number], numClasses: 4, batchNorm: true };
    const b = new NetBuilder(config);
    b.group('a', 4);
    b.group('r', 5);
    const conv1 = b.conv('conv1', 3, 3, 4, 1, 'same', false, { out: 'a' });
    const bn1 = b.bn('bn1', 4, 'a');
    const conv2 = b.conv('conv2', 3, 4, 5, 2, 'same', false, { in: 'a', out: 'r' });
    const bn2 = b.bn('bn2', 5, 'r');
    const short = b.conv('short', 1, 4, 5, 2, 'valid', false, { in: 'a', out: 'r' });
    const bnS = b.bn('bnS', 5, 'r');
    const fc = b.dense('fc', 5, 4, true, { in: 'r' });
    const model = b.build((ctx, x) => {
      const h = tf.tanh(bn1(ctx, conv1(ctx, x)));
      const r = tf.tanh(tf.add(bn2(ctx, conv2(ctx, h)), bnS(ctx, short(ctx, h))));
      return fc(ctx, ops.globalAvgPool(r as tf.Tensor4D));
    });
    const params = initParams(model, 2);
    params['bn1.running_var'] = tf.tensor1d([0.5, 2, 1.5, 0.8]);
    params['bn2.running_mean'] = tf.tensor1d([0.1, -0.2, 0.3, 0, 0.05]);
    const data = sample([8, 8, 3], 8, 8, 4);
    const names = model.prunable.map((p) => p.name);
    const batch = data.chunks()[Symbol.iterator]().next().value!;
    const gradAt = (gates: Record<string, tf.Tensor1D>) =>
      tf.tidy(() =>
        tf.grads((...ws: tf.Tensor[]) => {
          const p: ParamMap = { ...params };
          names.forEach((n, i) => (p[n] = ws[i]));
          return ops.crossEntropy(model.forward(p, batch.x, false, { gates }).logits, batch.y);
        })(names.map((n) => params[n])),
      );
    const ones = { a: tf.ones([4]) as tf.Tensor1D, r: tf.ones([5]) as tf.Tensor1D };
    const g0 = gradAt(ones);
    const z = (group: 'a' | 'r', j: number, h: number) => {
      const shifted = { ...ones, [group]: tf.tensor1d(Array.from({ length: group === 'a' ? 4 : 5 }, (_, k) => (k === j ? 1 + h : 1))) };
      const gs = gradAt(shifted);
      const out = gs.reduce((s, t, i) => s + tf.sum(tf.mul(t, g0[i])).dataSync()[0], 0);
      tf.dispose([...gs, shifted[group]]);
      return out;
    };
    const h = 1e-2;
    const fd = (group: 'a' | 'r', j: number) => {
      const d1 = (z(group, j, h) - z(group, j, -h)) / (2 * h);
      const d2 = (z(group, j, 2 * h) - z(group, j, -2 * h)) / (4 * h);
      return Math.abs((4 * d1 - d2) / 3);
    };
    const crop = await channelScores('crop', { model, params, data, bnMode: 'eval', alive: allAlive(model), seed: 0, round: 0 });
    expect(
      relErr(
        crop.get('a')!,
        [0, 1, 2, 3].map((j) => fd('a', j)),
      ),
    ).toBeLessThan(2e-3);
    expect(
      relErr(
        crop.get('r')!,
        [0, 1, 2, 3, 4].map((j) => fd('r', j)),
      ),
    ).toBeLessThan(2e-3);
  });
});

describe('channel selection', () => {
  const groups = [
    { name: 'a', size: 4 },
    { name: 'b', size: 3 },
    { name: 'c', size: 5 },
  ];
  const scores = new Map([
    ['a', Float32Array.from([9, 8, 7, 6])],
    ['b', Float32Array.from([0.1, 0.3, 0.2])],
    ['c', Float32Array.from([5, 5, 5, 0, 9])],
  ]);
  const alive = new Map(groups.map((g) => [g.name, new Uint8Array(g.size).fill(1)]));
  const kept = (m: Map<string, Uint8Array>) => Object.fromEntries([...m].map(([g, b]) => [g, [...b.keys()].filter((i) => b[i])]));

  it('ranks globally, keeps the best channel of a group that would otherwise vanish, breaks ties by order', () => {
    // Top 5 globally would be a0 a1 c4 a2 a3 (9, 8, 9, 7, 6): b's best (index 1) is forced in first.
    expect(kept(selectChannels(groups, scores, alive, 5))).toEqual({ a: [0, 1, 2], b: [1], c: [4] });
    // Ties at 5 in c go to the lower index.
    expect(kept(selectChannels(groups, scores, alive, 8))).toEqual({ a: [0, 1, 2, 3], b: [1], c: [0, 1, 4] });
    expect(kept(selectChannels(groups, scores, alive, 3))).toEqual({ a: [0], b: [1], c: [4] });
  });

  it('only alive channels compete, and the budget counts each shared group once', () => {
    const someDead = new Map(alive);
    someDead.set('a', Uint8Array.from([0, 0, 1, 1]));
    expect(kept(selectChannels(groups, scores, someDead, 4))).toEqual({ a: [2, 3], b: [1], c: [4] });
    expect(channelBudget(groups, 0.5)).toBe(6);
    expect(channelBudget(groups, 0.01)).toBe(3); // never below one per group
    const resnet = createModel('resnet18', { width: 4 });
    // stem 4 + stages 8, 16, 32 + inner 4,4,8,8,16,16,32,32 = 180 channels.
    expect(channelBudget(resnet.channelGroups, 1)).toBe(180);
  });

  it('structuredPrune keeps exactly the budget in geometric steps, ≥ 1 per group', async () => {
    await initBackend('wasm');
    const model = createModel('resnet20', { width: 4, inputShape: [8, 8, 3] });
    const params = initParams(model, 0);
    const rounds: number[] = [];
    const r = await structuredPrune({
      criterion: 'random',
      model,
      params,
      density: 0.3,
      iterations: 3,
      bnMode: 'eval',
      seed: 5,
      onRound: (i) => rounds.push(i),
    });
    const total = model.channelGroups.reduce((n, g) => n + g.size, 0);
    expect(rounds).toEqual([0, 1, 2]);
    expect([...r.keep.values()].reduce((n, k) => n + k.length, 0)).toBe(Math.round(0.3 * total));
    for (const g of model.channelGroups) expect(r.keep.get(g.name)!.length).toBeGreaterThanOrEqual(1);
    const again = await structuredPrune({ criterion: 'random', model, params, density: 0.3, iterations: 3, bnMode: 'eval', seed: 5 });
    expect([...again.keep]).toEqual([...r.keep]);
    tf.dispose(Object.values(params));
  });
});
