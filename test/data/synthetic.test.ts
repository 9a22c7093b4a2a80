import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/registry.ts';
import { expectUsageError } from './helpers.ts';

describe('synthetic dataset', () => {
  const options = { shape: [6, 5, 2] as [number, number, number], numClasses: 4, nTrain: 200, nTest: 80, seed: 7 };

  it('has the requested shape, sizes and balanced labels, values in [0, 1]', () => {
    const ds = loadDataset('synthetic', { synthetic: options });
    expect(ds.train.shape).toEqual([6, 5, 2]);
    expect(ds.train.images.length).toBe(200 * 60);
    expect(ds.test.n).toBe(80);
    expect(ds.numClasses).toBe(4);
    const counts = [0, 0, 0, 0];
    for (const y of ds.train.labels) counts[y]++;
    expect(counts).toEqual([50, 50, 50, 50]);
    expect(ds.train.images.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(ds.mean).toHaveLength(2);
    expect(ds.std.every((s) => s > 0)).toBe(true);
    expect(ds.augment).toBe(false);
  });

  it('is deterministic from the seed', () => {
    const a = loadDataset('synthetic', { synthetic: options });
    const b = loadDataset('synthetic', { synthetic: options });
    const c = loadDataset('synthetic', { synthetic: { ...options, seed: 8 } });
    expect(b.train.images).toEqual(a.train.images);
    expect(b.test.images).toEqual(a.test.images);
    expect(c.train.images).not.toEqual(a.train.images);
  });

  it('is learnable: nearest class mean classifies the test split', () => {
    const ds = loadDataset('synthetic', { synthetic: options });
    const size = 60;
    const means = Array.from({ length: 4 }, () => new Float64Array(size));
    ds.train.labels.forEach((y, i) => {
      for (let p = 0; p < size; p++) means[y][p] += ds.train.images[i * size + p] / 50;
    });
    let correct = 0;
    for (let i = 0; i < ds.test.n; i++) {
      const dist = means.map((m) => m.reduce((s, v, p) => s + (v - ds.test.images[i * size + p]) ** 2, 0));
      if (dist.indexOf(Math.min(...dist)) === ds.test.labels[i]) correct++;
    }
    expect(correct / ds.test.n).toBeGreaterThan(0.9);
  });

  it('defaults to a 28×28×1, 10-class set and marks 32×32×3 as augmentable', () => {
    const ds = loadDataset('synthetic');
    expect(ds.train.shape).toEqual([28, 28, 1]);
    expect(ds.numClasses).toBe(10);
    expect(loadDataset('synthetic', { synthetic: { shape: [32, 32, 3], nTrain: 10, nTest: 0 } }).augment).toBe(true);
  });

  it('rejects bad options with a one-line error', () => {
    expectUsageError(() => loadDataset('synthetic', { synthetic: { shape: [0, 4, 1] } }), /shape/);
    expectUsageError(() => loadDataset('synthetic', { synthetic: { numClasses: 1 } }), /numClasses/);
    expectUsageError(() => loadDataset('synthetic', { synthetic: { nTrain: 2.5 } }), /nTrain/);
  });
});
