import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FASHION_MNIST_DIR, loadDataset } from '../../src/data/registry.ts';

const exists = fs.existsSync(FASHION_MNIST_DIR);

describe('fashion-mnist from the Debian package', () => {
  it.skipIf(!exists)(`loads 60,000 / 10,000 balanced 28×28 images${exists ? '' : ' (skipped: install Debian package dataset-fashion-mnist)'}`, () => {
    const ds = loadDataset('fashion-mnist');
    expect(ds.train.n).toBe(60000);
    expect(ds.test.n).toBe(10000);
    expect(ds.train.shape).toEqual([28, 28, 1]);
    const counts = new Array(10).fill(0);
    for (const y of ds.train.labels) counts[y]++;
    expect(counts).toEqual(new Array(10).fill(6000));
    let sum = 0;
    for (let i = 0; i < ds.train.images.length; i += 97) sum += ds.train.images[i];
    expect(sum / Math.ceil(ds.train.images.length / 97)).toBeCloseTo(0.286, 2);
  });
});
