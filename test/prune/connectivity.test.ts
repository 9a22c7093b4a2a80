import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';
import { keptCount, type Masks } from '../../src/masks/masks.ts';
import { createModel, initParams, type Model } from '../../src/models/index.ts';
import { disconnectedWeights, reconnect } from '../../src/scoring/connectivity.ts';
import { selectMasks } from '../../src/scoring/select.ts';
import { Rng } from '../../src/util/rng.ts';

/**
 * Independent reference: reachability on the unit graph. A chain of layers, each given as
 * (kept weight index → input unit, output unit); `inUnits[l]` maps layer l's input units onto the
 * previous layer's output units (a flatten repeats each channel at every position).
 */
interface Layer {
  name: string;
  cin: number;
  cout: number;
  /** Input unit of flat weight index i. */
  unitIn: (i: number) => number;
  /** Previous layer's output unit feeding input unit u (identity unless flattened). */
  from: (u: number) => number;
}

function graphDisconnected(layers: Layer[], masks: Masks, inputs: number): Masks {
  const fwd: boolean[][] = [new Array(inputs).fill(true)];
  layers.forEach((l, k) => {
    const out = new Array(l.cout).fill(false);
    masks.get(l.name)!.forEach((b, i) => {
      if (b && fwd[k][l.from(l.unitIn(i))]) out[i % l.cout] = true;
    });
    fwd.push(out);
  });
  const bwd: boolean[][] = new Array(layers.length + 1);
  bwd[layers.length] = new Array(layers.at(-1)!.cout).fill(true);
  for (let k = layers.length - 1; k >= 0; k--) {
    const l = layers[k];
    const prev = new Array(fwd[k].length).fill(false);
    masks.get(l.name)!.forEach((b, i) => {
      if (b && bwd[k + 1][i % l.cout]) prev[l.from(l.unitIn(i))] = true;
    });
    bwd[k] = prev;
  }
  return new Map(
    layers.map((l, k) => [l.name, Uint8Array.from(masks.get(l.name)!, (b, i) => (b && !(fwd[k][l.from(l.unitIn(i))] && bwd[k + 1][i % l.cout]) ? 1 : 0))]),
  );
}

const id = (u: number) => u;
const conv = (name: string, cin: number, cout: number): Layer => ({ name, cin, cout, unitIn: (i) => Math.floor(i / cout) % cin, from: id });
const dense = (name: string, cin: number, cout: number, from: (u: number) => number = id): Layer => ({
  name,
  cin,
  cout,
  unitIn: (i) => Math.floor(i / cout),
  from,
});

// lenet5 on 28×28: conv1 1→6, conv2 6→16, flatten 5×5×16 (channels last), fc 400→120→84→10.
const LENET5: Layer[] = [conv('conv1', 1, 6), conv('conv2', 6, 16), dense('fc1', 400, 120, (u) => u % 16), dense('fc2', 120, 84), dense('fc3', 84, 10)];

function randomMasks(model: Model, density: number, seed: number): Masks {
  const rng = new Rng(seed);
  const scores = new Map(model.prunable.map((p) => [p.name, Float32Array.from({ length: p.size }, () => rng.next())]));
  return selectMasks(model, scores, { density, scope: 'layer' });
}

describe('disconnected weights', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  const lenet5 = createModel('lenet5');
  const params = initParams(lenet5, 0);

  for (const [density, seed] of [
    [0.01, 1],
    [0.02, 2],
    [0.05, 3],
    [0.3, 4],
  ] as const) {
    it(`lenet5 at density ${density}: the same weights as reachability on the unit graph`, async () => {
      const masks = randomMasks(lenet5, density, seed);
      const want = graphDisconnected(LENET5, masks, 1);
      const got = await disconnectedWeights(lenet5, params, masks);
      for (const l of LENET5) expect([...got.get(l.name)!], l.name).toEqual([...want.get(l.name)!]);
      if (density <= 0.02) expect(keptCount(want)).toBeGreaterThan(0); // the case is not vacuous
    });
  }

  it('an MLP: cutting one hidden unit off the output disconnects exactly its kept incoming weights', async () => {
    const mlp = createModel('lenet300', { width: 0.05, inputShape: [4, 4, 1] }); // 16-15-5-10
    const p = initParams(mlp, 0);
    const masks: Masks = new Map(mlp.prunable.map((t) => [t.name, new Uint8Array(t.size).fill(1)]));
    const [fc1, fc2] = mlp.prunable;
    const hidden = fc1.shape[1];
    const unit = 7;
    for (let j = 0; j < fc2.shape[1]; j++) masks.get(fc2.name)![unit * fc2.shape[1] + j] = 0;
    for (let i = 0; i < fc1.shape[0]; i += 3) masks.get(fc1.name)![i * hidden + unit] = 0; // some already pruned
    const dead = await disconnectedWeights(mlp, p, masks);
    const want = Uint8Array.from({ length: fc1.size }, (_, k) => (k % hidden === unit && masks.get(fc1.name)![k] ? 1 : 0));
    expect([...dead.get(fc1.name)!]).toEqual([...want]);
    expect(keptCount(dead)).toBe(want.reduce((a, b) => a + b, 0));
  });

  it('reconnect: none left disconnected, per-layer counts unchanged, connected kept weights stay', async () => {
    const rng = new Rng(11);
    const scores = new Map(lenet5.prunable.map((t) => [t.name, Float32Array.from({ length: t.size }, () => rng.next())]));
    const masks = selectMasks(lenet5, scores, { density: 0.02, scope: 'layer' });
    const dead = await disconnectedWeights(lenet5, params, masks);
    expect(keptCount(dead)).toBeGreaterThan(0);
    const r = await reconnect(lenet5, params, masks, scores);
    expect(r.left).toBe(0);
    expect(r.dropped).toBeGreaterThanOrEqual(keptCount(dead));
    expect(keptCount(graphDisconnected(LENET5, r.masks, 1))).toBe(0);
    for (const t of lenet5.prunable) {
      const before = masks.get(t.name)!;
      const after = r.masks.get(t.name)!;
      expect(
        after.reduce((a, b) => a + b, 0),
        t.name,
      ).toBe(before.reduce((a, b) => a + b, 0));
      before.forEach((b, i) => {
        if (b && !dead.get(t.name)![i]) expect(after[i]).toBe(1);
      });
    }
  });

  it('reconnect leaves a network with an empty layer as it was: no path can be made, and no count may fall', async () => {
    const rng = new Rng(12);
    const scores = new Map(lenet5.prunable.map((t) => [t.name, Float32Array.from({ length: t.size }, () => rng.next())]));
    const masks = selectMasks(lenet5, scores, { density: 0.05, scope: 'layer' });
    masks.get('fc2')!.fill(0);
    const r = await reconnect(lenet5, params, masks, scores);
    expect(r.dropped).toBe(0);
    expect(r.left).toBe(keptCount(masks));
    for (const t of lenet5.prunable) expect([...r.masks.get(t.name)!], t.name).toEqual([...masks.get(t.name)!]);
  });
});
