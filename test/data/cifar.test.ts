import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/registry.ts';
import { cifarRecord, expectUsageError, tempDir } from './helpers.ts';

const value = (record: number, c: number, y: number, x: number) => (record * 31 + c * 67 + y * 5 + x * 3) % 256;

/** HWC index of (y, x, c) in image `i` of a 32×32×3 split. */
const hwc = (i: number, y: number, x: number, c: number) => i * 3072 + (y * 32 + x) * 3 + c;

function writeCifar10(dir: string, perFile = 2): void {
  const folder = path.join(dir, 'cifar-10-batches-bin');
  fs.mkdirSync(folder, { recursive: true });
  const files = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
  files.forEach((f, fi) => {
    const records = Array.from({ length: perFile }, (_, r) => {
      const id = fi * perFile + r;
      return cifarRecord([id % 10], (c, y, x) => value(id, c, y, x));
    });
    fs.writeFileSync(path.join(folder, f), Buffer.concat(records));
  });
}

describe('CIFAR-10 binary reader', () => {
  it('concatenates the five batches and converts CHW to HWC exactly', () => {
    const dir = tempDir();
    writeCifar10(dir);
    const ds = loadDataset('cifar10', { dataDir: dir });
    expect(ds.train.n).toBe(10);
    expect(ds.test.n).toBe(2);
    expect(ds.train.shape).toEqual([32, 32, 3]);
    expect(Array.from(ds.train.labels)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(ds.test.labels)).toEqual([0, 1]);
    for (const [i, y, x, c] of [
      [0, 0, 0, 0],
      [3, 5, 17, 1],
      [9, 31, 31, 2],
      [7, 0, 31, 2],
      [4, 31, 0, 1],
    ]) {
      expect(ds.train.images[hwc(i, y, x, c)]).toBeCloseTo(value(i, c, y, x) / 255, 7);
    }
    expect(ds.test.images[hwc(1, 2, 3, 2)]).toBeCloseTo(value(11, 2, 2, 3) / 255, 7);
    expect(ds.mean).toEqual([0.4914, 0.4822, 0.4465]);
    expect(ds.std).toEqual([0.247, 0.2435, 0.2616]);
    expect(ds.augment).toBe(true);
    expect(ds.numClasses).toBe(10);
  });

  it('accepts --data-dir pointing at the batches folder itself', () => {
    const dir = tempDir();
    writeCifar10(dir, 1);
    expect(loadDataset('cifar10', { dataDir: path.join(dir, 'cifar-10-batches-bin') }).train.n).toBe(5);
  });

  it('names `pipeline data fetch cifar10` when the files are missing', () => {
    expectUsageError(() => loadDataset('cifar10', { dataDir: tempDir() }), /not found/, /pipeline data fetch cifar10/);
    const dir = tempDir();
    writeCifar10(dir, 1);
    fs.rmSync(path.join(dir, 'cifar-10-batches-bin', 'data_batch_3.bin'));
    expectUsageError(() => loadDataset('cifar10', { dataDir: dir }), /data_batch_3\.bin not found/, /pipeline data fetch cifar10/);
  });

  it('rejects a truncated batch', () => {
    const dir = tempDir();
    writeCifar10(dir);
    const file = path.join(dir, 'cifar-10-batches-bin', 'data_batch_2.bin');
    fs.truncateSync(file, 3073 + 100);
    expectUsageError(() => loadDataset('cifar10', { dataDir: dir }), /data_batch_2\.bin is truncated/, /3073-byte records/);
  });

  it('rejects a label out of range', () => {
    const dir = tempDir();
    writeCifar10(dir);
    const file = path.join(dir, 'cifar-10-batches-bin', 'test_batch.bin');
    const bytes = fs.readFileSync(file);
    bytes[3073] = 10; // label of record 1
    fs.writeFileSync(file, bytes);
    expectUsageError(() => loadDataset('cifar10', { dataDir: dir }), /test_batch\.bin record 1 has label 10/, /outside 0\.\.9/);
  });
});

describe('CIFAR-100 binary reader', () => {
  function writeCifar100(dir: string, fine: number[][]): void {
    const folder = path.join(dir, 'cifar-100-binary');
    fs.mkdirSync(folder, { recursive: true });
    ['train.bin', 'test.bin'].forEach((f, fi) => {
      const records = fine[fi].map((label, r) => cifarRecord([label % 20, label], (c, y, x) => value(fi * 10 + r, c, y, x)));
      fs.writeFileSync(path.join(folder, f), Buffer.concat(records));
    });
  }

  it('uses the fine label (second byte) and 100 classes', () => {
    const dir = tempDir();
    writeCifar100(dir, [[99, 42, 7], [55]]);
    const ds = loadDataset('cifar100', { dataDir: dir });
    expect(ds.numClasses).toBe(100);
    expect(Array.from(ds.train.labels)).toEqual([99, 42, 7]);
    expect(Array.from(ds.test.labels)).toEqual([55]);
    expect(ds.train.images[hwc(2, 10, 20, 0)]).toBeCloseTo(value(2, 0, 10, 20) / 255, 7);
    expect(ds.test.images[hwc(0, 31, 1, 2)]).toBeCloseTo(value(10, 2, 31, 1) / 255, 7);
    expect(ds.mean).toEqual([0.5071, 0.4867, 0.4408]);
    expect(ds.std).toEqual([0.2675, 0.2565, 0.2761]);
  });

  it('rejects a fine label ≥ 100 and a truncated file', () => {
    const dir = tempDir();
    writeCifar100(dir, [[1, 100], [2]]);
    expectUsageError(() => loadDataset('cifar100', { dataDir: dir }), /train\.bin record 1 has label 100/, /outside 0\.\.99/);
    const ok = tempDir();
    writeCifar100(ok, [[1, 2], [3]]);
    fs.truncateSync(path.join(ok, 'cifar-100-binary', 'test.bin'), 3000);
    expectUsageError(() => loadDataset('cifar100', { dataDir: ok }), /test\.bin is truncated/, /3074-byte records/);
  });

  it('names `pipeline data fetch cifar100` when missing', () => {
    expectUsageError(() => loadDataset('cifar100', { dataDir: tempDir() }), /pipeline data fetch cifar100/);
  });
});
