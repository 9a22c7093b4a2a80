import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/registry.ts';
import { expectUsageError } from './helpers.ts';

interface PackageDigit {
  length: number;
  get(i: number): number[];
}
const pkg = createRequire(import.meta.url)('mnist') as PackageDigit[];

function classCounts(labels: Int32Array): number[] {
  const counts = new Array(10).fill(0);
  for (const y of labels) counts[y]++;
  return counts;
}

describe('embedded mnist', () => {
  const ds = loadDataset('mnist');

  it('splits the 10,000 package digits 8,000 / 2,000', () => {
    expect(ds.train.n).toBe(8000);
    expect(ds.test.n).toBe(2000);
    expect(ds.train.images.length).toBe(8000 * 784);
    expect(ds.test.labels.length).toBe(2000);
    expect(ds.train.shape).toEqual([28, 28, 1]);
    expect(ds.numClasses).toBe(10);
    expect(ds.mean).toEqual([0.1307]);
    expect(ds.std).toEqual([0.3081]);
    expect(ds.augment).toBe(false);
  });

  it('is stratified: each digit gives round(0.8·n) to train, the rest to test', () => {
    const train = classCounts(ds.train.labels);
    const test = classCounts(ds.test.labels);
    for (let c = 0; c < 10; c++) {
      expect(train[c]).toBe(Math.round(0.8 * pkg[c].length));
      expect(train[c] + test[c]).toBe(pkg[c].length);
    }
    expect(train).toEqual([801, 902, 793, 826, 784, 690, 811, 856, 755, 782]);
  });

  it('takes the first images of each digit in package order for train, interleaved by class', () => {
    expect(Array.from(ds.train.labels.subarray(0, 20))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const image = (split: typeof ds.train, i: number) => Array.from(split.images.subarray(i * 784, (i + 1) * 784));
    const close = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) < 1e-6);
    expect(close(image(ds.train, 0), pkg[0].get(0))).toBe(true);
    expect(close(image(ds.train, 13), pkg[3].get(1))).toBe(true);
    // test starts right after each digit's train share
    expect(close(image(ds.test, 0), pkg[0].get(801))).toBe(true);
    expect(close(image(ds.test, 5), pkg[5].get(690))).toBe(true);
    // digit 5 (690 train images) runs out first: after round 689 it is skipped
    expect(ds.train.labels[690 * 10 + 5]).toBe(6);
  });

  it('has grey levels in [0, 1] and real content', () => {
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (const v of ds.train.images) {
      min = Math.min(min, v);
      max = Math.max(max, v);
      sum += v;
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
    expect(sum / ds.train.images.length).toBeGreaterThan(0.1);
    expect(sum / ds.train.images.length).toBeLessThan(0.16);
  });

  it('is deterministic and decoded once per process', () => {
    const again = loadDataset('mnist');
    expect(again.train.images).toBe(ds.train.images);
    expect(again.mean).not.toBe(ds.mean);
  });

  it('takes no data directory', () => {
    expectUsageError(() => loadDataset('mnist', { dataDir: '/tmp' }), /mnist-idx/);
  });
});
