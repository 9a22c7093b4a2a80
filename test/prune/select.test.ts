import { describe, expect, it } from 'vitest';
import { createModel } from '../../src/models/index.ts';
import { thetaHgScores } from '../../src/scoring/criteria/grasp.ts';
import { roundCounts, roundDensity, selectMasks } from '../../src/scoring/select.ts';
import { UsageError } from '../../src/util/errors.ts';
import { Rng } from '../../src/util/rng.ts';

const model = createModel('lenet300', { width: 0.05, inputShape: [4, 4, 1] }); // 16-15-5-10: 240 + 75 + 50 = 365 weights
const total = model.prunable.reduce((n, p) => n + p.size, 0);
const count = (m: Map<string, Uint8Array>) => [...m.values()].reduce((n, b) => n + b.reduce((a, v) => a + v, 0), 0);
const scoresFrom = (f: (layer: number, i: number) => number) =>
  new Map(model.prunable.map((p, l) => [p.name, Float32Array.from({ length: p.size }, (_, i) => f(l, i))]));

describe('exact-count selection', () => {
  it('the model under test has the expected shape', () => expect(total).toBe(365));

  for (const density of [0, 0.5, 0.999, 1]) {
    it(`keeps exactly round(${density}·N) weights globally and per layer, even with heavy ties`, () => {
      const rng = new Rng(3);
      const scores = scoresFrom(() => Math.floor(rng.next() * 4)); // only 4 distinct values
      expect(count(selectMasks(model, scores, { density, scope: 'global' }))).toBe(Math.round(density * total));
      const layer = selectMasks(model, scores, { density, scope: 'layer' });
      for (const p of model.prunable) expect(layer.get(p.name)!.reduce((a, b) => a + b, 0)).toBe(Math.round(density * p.size));
    });
  }

  it('keeps exactly round(0.999·N) of a full-size lenet300 (266,200 weights)', () => {
    const big = createModel('lenet300');
    const rng = new Rng(9);
    const scores = new Map(big.prunable.map((p) => [p.name, Float32Array.from({ length: p.size }, () => Math.round(rng.next() * 1000))]));
    const m = selectMasks(big, scores, { density: 0.999, scope: 'global' });
    expect(count(m)).toBe(Math.round(0.999 * 266_200));
  });

  it('keeps the highest scores and breaks ties toward the lower flat index (forward order)', () => {
    // All scores equal except three clear winners: the rest of the budget goes to the first indices.
    const scores = scoresFrom(() => 1);
    scores.get('fc3')![7] = 5;
    scores.get('fc2')![0] = 4;
    scores.get('fc1')![100] = 3;
    const m = selectMasks(model, scores, { density: 5 / 365, scope: 'global' });
    expect(m.get('fc3')![7]).toBe(1);
    expect(m.get('fc2')![0]).toBe(1);
    expect(m.get('fc1')![100]).toBe(1);
    expect(Array.from(m.get('fc1')!.subarray(0, 3))).toEqual([1, 1, 0]);
    expect(count(m)).toBe(5);
  });

  it('weights already pruned never come back', () => {
    const alive = new Map(model.prunable.map((p) => [p.name, Uint8Array.from({ length: p.size }, (_, i) => (i % 2 ? 1 : 0))]));
    const scores = scoresFrom((_, i) => (i % 2 ? 0 : 100)); // dead weights score highest
    const m = selectMasks(model, scores, { density: 0.2, scope: 'global', alive });
    for (const [n, bits] of m) bits.forEach((b, i) => b && expect(alive.get(n)![i]).toBe(1));
    expect(count(m)).toBe(Math.round(0.2 * total));
  });

  it('a min-layer-density floor holds while the total stays exact', () => {
    const scores = scoresFrom((l) => (l === 0 ? 0 : 1)); // global ranking alone would empty fc1
    const free = selectMasks(model, scores, { density: 0.2, scope: 'global' });
    expect(free.get('fc1')!.reduce((a, b) => a + b, 0)).toBe(0); // 73 slots, 125 higher-scored weights elsewhere
    const floored = selectMasks(model, scores, { density: 0.2, scope: 'global', minLayerDensity: 0.05 });
    expect(floored.get('fc1')!.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(Math.ceil(0.05 * 240));
    expect(count(floored)).toBe(Math.round(0.2 * total));
    expect(() => selectMasks(model, scores, { density: 0.01, scope: 'global', minLayerDensity: 0.5 })).toThrow(/min-layer-density/);
  });

  it('NaN or infinite scores are refused, naming the tensor', () => {
    const scores = scoresFrom(() => 1);
    scores.get('fc2')![3] = Number.NaN;
    expect(() => selectMasks(model, scores, { density: 0.5, scope: 'global', criterion: 'snip' })).toThrow(UsageError);
    expect(() => selectMasks(model, scores, { density: 0.5, scope: 'global', criterion: 'snip' })).toThrow(/tensor 'fc2'/);
    scores.get('fc2')![3] = Number.POSITIVE_INFINITY;
    expect(() => selectMasks(model, scores, { density: 0.5, scope: 'global' })).toThrow(/non-finite/);
  });

  it('the geometric schedule ends exactly at the target', () => {
    expect(roundDensity(0.01, 0, 2)).toBeCloseTo(0.1, 12);
    expect(roundDensity(0.01, 1, 2)).toBe(0.01);
    expect(roundDensity(0.3, 0, 1)).toBe(0.3);
  });

  it('per-tensor rounds shrink each tensor geometrically to its own final count', () => {
    const sizes = new Map(model.prunable.map((p) => [p.name, p.size]));
    const [a, b, c] = model.prunable.map((p) => p.name);
    const final = new Map([
      [a, 10],
      [b, 0],
      [c, sizes.get(c)!],
    ]);
    const r0 = roundCounts(model, final, 0, 2);
    expect(r0.get(a)).toBe(Math.round(Math.sqrt(10 * sizes.get(a)!))); // n·(c/n)^(1/2)
    expect(r0.get(b)).toBe(0);
    expect(r0.get(c)).toBe(sizes.get(c));
    expect(roundCounts(model, final, 1, 2)).toEqual(final);
    let prev = sizes.get(a)!;
    for (let r = 0; r < 7; r++) {
      const n = roundCounts(model, final, r, 7).get(a)!;
      expect(n).toBeLessThanOrEqual(prev);
      expect(n).toBeGreaterThanOrEqual(10);
      prev = n;
    }
    expect(prev).toBe(10);
  });
});

describe('grasp vs grasp-abs on constructed θ ⊙ Hg', () => {
  const theta = (sign: number) => new Map(model.prunable.map((p) => [p.name, Float32Array.from({ length: p.size }, (_, i) => sign * (1 + i))]));
  const hg = new Map(model.prunable.map((p, l) => [p.name, Float32Array.from({ length: p.size }, (_, i) => 0.001 * (1 + ((i * 7 + l * 13) % p.size)))]));
  const masksOf = (abs: boolean, sign: number) => selectMasks(model, thetaHgScores({ theta: theta(sign), hg }, abs), { density: 0.5, scope: 'layer' });

  it('keep opposite sets when every θ ⊙ Hg is negative (GraSP removes the largest −θHg)', () => {
    const g = masksOf(false, -1);
    const a = masksOf(true, -1);
    for (const p of model.prunable) {
      const gb = g.get(p.name)!;
      const ab = a.get(p.name)!;
      const overlap = gb.reduce((n, b, i) => n + (b & ab[i]), 0);
      expect(overlap).toBeLessThanOrEqual(p.size % 2); // disjoint up to the odd middle element
    }
  });

  it('keep equal sets when every θ ⊙ Hg is positive', () => {
    const g = masksOf(false, 1);
    const a = masksOf(true, 1);
    for (const p of model.prunable) expect(Array.from(g.get(p.name)!)).toEqual(Array.from(a.get(p.name)!));
  });
});
