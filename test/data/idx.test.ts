import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/registry.ts';
import { expectUsageError, idxBytes, tempDir, writeFile } from './helpers.ts';

/** 3 train + 2 test images of 2×3 pixels; pixel value = 10·image + position (+100 for test). */
function writeIdxSet(dir: string, gzip: boolean, overrides: Partial<Record<string, Buffer>> = {}): void {
  const train = Array.from({ length: 3 * 6 }, (_, i) => 10 * Math.floor(i / 6) + (i % 6));
  const test = Array.from({ length: 2 * 6 }, (_, i) => 100 + 10 * Math.floor(i / 6) + (i % 6));
  const files: Record<string, Buffer> = {
    'train-images-idx3-ubyte': idxBytes([3, 2, 3], train),
    'train-labels-idx1-ubyte': idxBytes([3], [7, 0, 9]),
    't10k-images-idx3-ubyte': idxBytes([2, 2, 3], test),
    't10k-labels-idx1-ubyte': idxBytes([2], [3, 5]),
    ...overrides,
  };
  for (const [name, bytes] of Object.entries(files)) if (bytes) writeFile(dir, name, bytes, gzip);
}

describe('IDX reader', () => {
  for (const gzip of [false, true]) {
    it(`reads ${gzip ? 'gzipped' : 'raw'} files exactly`, () => {
      const dir = tempDir();
      writeIdxSet(dir, gzip);
      const ds = loadDataset('mnist-idx', { dataDir: dir });
      expect(ds.train.n).toBe(3);
      expect(ds.test.n).toBe(2);
      expect(ds.train.shape).toEqual([2, 3, 1]);
      expect(Array.from(ds.train.labels)).toEqual([7, 0, 9]);
      expect(Array.from(ds.test.labels)).toEqual([3, 5]);
      // image 1, row 1, col 2 → byte 10·1 + (1·3 + 2) = 15
      expect(ds.train.images[1 * 6 + 1 * 3 + 2]).toBeCloseTo(15 / 255, 7);
      expect(ds.test.images[6 + 4]).toBeCloseTo(114 / 255, 7);
      expect(ds.mean).toEqual([0.1307]);
      expect(ds.std).toEqual([0.3081]);
      expect(ds.augment).toBe(false);
    });
  }

  it('reads a mix of gzipped and raw files', () => {
    const dir = tempDir();
    writeIdxSet(dir, true);
    fs.renameSync(path.join(dir, 't10k-labels-idx1-ubyte.gz'), path.join(dir, 'unused'));
    writeFile(dir, 't10k-labels-idx1-ubyte', idxBytes([2], [1, 2]));
    expect(Array.from(loadDataset('mnist-idx', { dataDir: dir }).test.labels)).toEqual([1, 2]);
  });

  it('rejects a wrong magic number', () => {
    const dir = tempDir();
    writeIdxSet(dir, false, { 'train-images-idx3-ubyte': idxBytes([3, 2, 3], new Array(18).fill(0), 0x00000801) });
    expectUsageError(() => loadDataset('mnist-idx', { dataDir: dir }), /wrong magic number/, /0x00000801/, /0x00000803/);
  });

  it('rejects a truncated image file', () => {
    const dir = tempDir();
    writeIdxSet(dir, true, { 'train-images-idx3-ubyte': idxBytes([3, 2, 3], new Array(17).fill(0)) });
    expectUsageError(() => loadDataset('mnist-idx', { dataDir: dir }), /truncated/, /train-images-idx3-ubyte/);
  });

  it('rejects a file shorter than its header', () => {
    const dir = tempDir();
    writeIdxSet(dir, false, { 't10k-labels-idx1-ubyte': Buffer.from([0, 0, 8, 1, 0]) });
    expectUsageError(() => loadDataset('mnist-idx', { dataDir: dir }), /truncated/);
  });

  it('rejects a label out of range', () => {
    const dir = tempDir();
    writeIdxSet(dir, false, { 'train-labels-idx1-ubyte': idxBytes([3], [7, 10, 9]) });
    expectUsageError(() => loadDataset('mnist-idx', { dataDir: dir }), /label 10/, /outside 0\.\.9/, /record 1/);
  });

  it('rejects image and label counts that differ', () => {
    const dir = tempDir();
    writeIdxSet(dir, false, { 'train-labels-idx1-ubyte': idxBytes([2], [7, 0]) });
    expectUsageError(() => loadDataset('mnist-idx', { dataDir: dir }), /3 images but .* 2 labels/);
  });

  it('rejects a split without images (a valid file of 0 images), naming the split and the directory', () => {
    for (const split of ['train', 't10k']) {
      const dir = tempDir();
      writeIdxSet(dir, false, { [`${split}-images-idx3-ubyte`]: idxBytes([0, 2, 3], []), [`${split}-labels-idx1-ubyte`]: idxBytes([0], []) });
      expectUsageError(
        () => loadDataset('mnist-idx', { dataDir: dir }),
        new RegExp(`the ${split === 'train' ? 'train' : 'test'} split in ${dir} holds no images`),
      );
    }
  });

  it('explains a missing file or directory with the fix', () => {
    const dir = tempDir();
    writeIdxSet(dir, false, { 't10k-images-idx3-ubyte': undefined });
    expectUsageError(() => loadDataset('mnist-idx', { dataDir: dir }), /t10k-images-idx3-ubyte/, /--data-dir/);
    expectUsageError(() => loadDataset('mnist-idx'), /--data-dir/);
    expectUsageError(() => loadDataset('fashion-mnist', { dataDir: path.join(dir, 'nope') }), /not found/, /dataset-fashion-mnist/, /--data-dir/);
  });

  it('fashion-mnist uses its own normalization on the same reader', () => {
    const dir = tempDir();
    writeIdxSet(dir, true);
    const ds = loadDataset('fashion-mnist', { dataDir: dir });
    expect(ds.name).toBe('fashion-mnist');
    expect(ds.mean).toEqual([0.286]);
    expect(ds.std).toEqual([0.353]);
    expect(Array.from(ds.train.labels)).toEqual([7, 0, 9]);
  });
});
