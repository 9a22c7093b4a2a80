import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CIFAR_LAYOUTS } from '../../src/data/cifar.ts';
import { NORMALIZATION } from '../../src/data/normalize.ts';
import { datasetNames, loadDataset } from '../../src/data/registry.ts';
import { expectUsageError } from './helpers.ts';

const registry = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../../datasets/registry.json'), 'utf8')) as {
  datasets: Array<{
    name: string;
    classes: number;
    shape: number[];
    split: { train: number; test: number } | null;
    mean: number[] | null;
    std: number[] | null;
    augment: boolean;
    archive?: { url: string; md5: string; folder: string };
  }>;
};
const doc = (name: string) => registry.datasets.find((d) => d.name === name)!;

describe('dataset registry', () => {
  it('documents exactly the loadable datasets', () => {
    expect(registry.datasets.map((d) => d.name).sort()).toEqual(datasetNames().sort());
  });

  it('rejects an unknown name, listing the known ones', () => {
    expectUsageError(() => loadDataset('cifar-11'), /unknown dataset "cifar-11"/, /mnist, mnist-idx, fashion-mnist, cifar10, cifar100, synthetic/);
    expectUsageError(() => loadDataset('toString'), /unknown dataset/);
  });

  it('registry.json agrees with the loaders', () => {
    const mnist = loadDataset('mnist');
    expect(doc('mnist')).toMatchObject({
      classes: 10,
      shape: mnist.train.shape,
      split: { train: mnist.train.n, test: mnist.test.n },
      mean: mnist.mean,
      std: mnist.std,
      augment: false,
    });
    expect(doc('fashion-mnist')).toMatchObject({ mean: [...NORMALIZATION.fashionMnist.mean], std: [...NORMALIZATION.fashionMnist.std] });
    expect(doc('mnist-idx')).toMatchObject({ mean: [...NORMALIZATION.mnist.mean], std: [...NORMALIZATION.mnist.std] });
    for (const name of ['cifar10', 'cifar100'] as const) {
      expect(doc(name)).toMatchObject({
        classes: CIFAR_LAYOUTS[name].numClasses,
        shape: [32, 32, 3],
        mean: [...NORMALIZATION[name].mean],
        std: [...NORMALIZATION[name].std],
        augment: true,
      });
      expect(doc(name).archive?.folder).toBe(CIFAR_LAYOUTS[name].folder);
    }
    expect(doc('cifar10').archive).toMatchObject({ url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530' });
    expect(doc('cifar100').archive).toMatchObject({ url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz', md5: '03b5dce01913d631647c71ecec9e9cb8' });
  });
});

describe('synthetic datasets named on the command line', () => {
  it('synthetic:HxWxC:classes:nTrain sets shape, classes and size', async () => {
    const { loadDataset } = await import('../../src/data/registry.ts');
    const ds = loadDataset('synthetic:32x32x3:4:40');
    expect(ds.train.shape).toEqual([32, 32, 3]);
    expect(ds.numClasses).toBe(4);
    expect(ds.train.n).toBe(40);
    expect(() => loadDataset('synthetic:32x32')).toThrow(/synthetic:HxWxC/);
  });
});

describe('--pad-to', () => {
  it('centres each 28×28 digit in a 32×32 canvas of raw zeros, labels unchanged', () => {
    const raw = loadDataset('mnist');
    const padded = loadDataset('mnist', { padTo: 32 });
    expect(padded.train.shape).toEqual([32, 32, 1]);
    expect(padded.test.n).toBe(raw.test.n);
    expect(padded.test.labels).toBe(raw.test.labels);
    for (const i of [0, 1234, raw.test.n - 1]) {
      const src = raw.test.images.subarray(i * 784, (i + 1) * 784);
      const dst = padded.test.images.subarray(i * 1024, (i + 1) * 1024);
      let sumIn = 0;
      let sumOut = 0;
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          const inside = y >= 2 && y < 30 && x >= 2 && x < 30;
          const want = inside ? src[(y - 2) * 28 + (x - 2)] : 0;
          expect(dst[y * 32 + x]).toBe(want);
          sumOut += dst[y * 32 + x];
        }
      }
      for (const v of src) sumIn += v;
      expect(sumOut).toBeCloseTo(sumIn, 3);
    }
  });

  it('puts an odd margin after the image and keeps channels interleaved', () => {
    const ds = loadDataset('synthetic:3x2x2:2:4', { padTo: 4 });
    const raw = loadDataset('synthetic:3x2x2:2:4');
    expect(ds.train.shape).toEqual([4, 4, 2]);
    // top = floor(1/2) = 0, left = floor(2/2) = 1: row y, col x of the source lands at (y, x + 1).
    for (let y = 0; y < 3; y++)
      for (let x = 0; x < 2; x++) for (let c = 0; c < 2; c++) expect(ds.train.images[(y * 4 + x + 1) * 2 + c]).toBe(raw.train.images[(y * 2 + x) * 2 + c]);
    expect(Array.from(ds.train.images.subarray(3 * 8, 4 * 8))).toEqual(new Array(8).fill(0));
  });

  it('a canvas smaller than the images is a usage error naming the minimum', () => {
    expectUsageError(() => loadDataset('mnist', { padTo: 20 }), /--pad-to 20 is smaller than the 28×28 images/, /integer ≥ 28/);
  });
});
