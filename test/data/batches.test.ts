import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { epochOrder, iterateBatches, makeBatch } from '../../src/data/batches.ts';
import { loadDataset } from '../../src/data/registry.ts';
import { sampleChunks, scoringSample } from '../../src/data/scoring-sample.ts';
import type { Dataset, Split } from '../../src/data/types.ts';
import { expectUsageError } from './helpers.ts';

describe('epochOrder', () => {
  it('is a permutation, reproducible from (seed, epoch) alone', () => {
    const order = epochOrder(1000, 42, 3);
    expect(Array.from(order).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(epochOrder(1000, 42, 3)).toEqual(order);
    expect(epochOrder(1000, 42, 4)).not.toEqual(order);
    expect(epochOrder(1000, 43, 3)).not.toEqual(order);
    expect(Array.from(order.subarray(0, 10))).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('iterateBatches', () => {
  const split = { n: 10 } as Split;
  const order = Int32Array.from([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);

  it('yields consecutive slices, keeping or dropping the short last one', () => {
    expect([...iterateBatches(split, order, 4)].map((b) => Array.from(b))).toEqual([
      [9, 8, 7, 6],
      [5, 4, 3, 2],
      [1, 0],
    ]);
    expect([...iterateBatches(split, order, 4, { dropLast: true })].map((b) => b.length)).toEqual([4, 4]);
    expect([...iterateBatches(split, order, 5, { dropLast: true })].map((b) => b.length)).toEqual([5, 5]);
  });

  it('rejects a bad batch size', () => {
    expectUsageError(() => [...iterateBatches(split, order, 0)], /batch size/);
  });
});

describe('makeBatch', () => {
  const mnist = loadDataset('mnist');

  it('normalizes per channel and returns int32 labels', () => {
    const { x, y } = makeBatch(mnist.train, [5, 0], { dataset: mnist });
    expect(x.shape).toEqual([2, 28, 28, 1]);
    expect(y.dtype).toBe('int32');
    expect(Array.from(y.dataSync())).toEqual([mnist.train.labels[5], mnist.train.labels[0]]);
    const values = x.dataSync();
    const pixel = 14 * 28 + 14;
    const raw = mnist.train.images[5 * 784 + pixel];
    expect(values[pixel]).toBeCloseTo((raw - 0.1307) / 0.3081, 5);
    expect(values[784]).toBeCloseTo((0 - 0.1307) / 0.3081, 5); // corner pixel of image 0 is background
    x.dispose();
    y.dispose();
  });

  it('uses each channel’s own mean and std', () => {
    const split: Split = { images: Float32Array.from([0.5, 0.5, 0.5, 1, 0, 0.25]), labels: Int32Array.from([1]), n: 1, shape: [1, 2, 3] };
    const dataset = { mean: [0.5, 0.25, 0], std: [0.5, 0.25, 2], augment: false };
    const { x, y } = makeBatch(split, [0], { dataset });
    expect(Array.from(x.dataSync())).toEqual([0, 1, 0.25, 1, -1, 0.125]);
    x.dispose();
    y.dispose();
  });

  it('leaks no tensors once the caller disposes', () => {
    const before = tf.memory().numTensors;
    for (const batch of iterateBatches(mnist.train, epochOrder(mnist.train.n, 1, 0).subarray(0, 300), 64)) {
      const { x, y } = makeBatch(mnist.train, batch, { dataset: mnist });
      x.dispose();
      y.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects an index outside the split', () => {
    expectUsageError(() => makeBatch(mnist.test, [2000], { dataset: mnist }), /outside 0\.\.1999/);
  });
});

describe('scoringSample', () => {
  const labels = [2, 0, 2, 1, 0, 2, 0, 1, 1, 0, 2, 1];
  const toy: Dataset = {
    name: 'toy',
    train: { images: Float32Array.from(labels.flatMap((_, i) => [i, i + 0.5])), labels: Int32Array.from(labels), n: 12, shape: [1, 2, 1] },
    test: { images: new Float32Array(0), labels: new Int32Array(0), n: 0, shape: [1, 2, 1] },
    numClasses: 3,
    mean: [0],
    std: [1],
    augment: false,
  };

  it('takes the first k of each class, in dataset order', () => {
    const s = scoringSample(toy, 2);
    // first two 2s: 0, 2; first two 0s: 1, 4; first two 1s: 3, 7
    expect(Array.from(s.labels)).toEqual([2, 0, 2, 1, 0, 1]);
    expect(Array.from(s.images)).toEqual([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 7, 7.5]);
    expect(s.n).toBe(6);
  });

  it('fails when a class has too few examples', () => {
    expectUsageError(() => scoringSample(toy, 5), /class 0 has only 4/, /samples-per-class/);
  });

  it('on mnist gives 10 per class from the train split, no augmentation', () => {
    const mnist = loadDataset('mnist');
    const s = scoringSample(mnist, 10);
    expect(s.n).toBe(100);
    const counts = new Array(10).fill(0);
    for (const y of s.labels) counts[y]++;
    expect(counts).toEqual(new Array(10).fill(10));
    // mnist's train split is interleaved by class, so the sample is its first 100 images
    expect(s.images).toEqual(mnist.train.images.subarray(0, 100 * 784));
  });

  it('chunks into normalized tensors whose concatenation does not depend on the chunk size', () => {
    const mnist = loadDataset('mnist');
    const s = scoringSample(mnist, 3);
    const before = tf.memory().numTensors;
    const collect = (size: number) => {
      const parts: number[][] = [];
      const lengths: number[] = [];
      for (const { x, y } of sampleChunks(mnist, s, size)) {
        lengths.push(x.shape[0]);
        parts.push(Array.from(x.dataSync()));
        x.dispose();
        y.dispose();
      }
      return { lengths, values: parts.flat() };
    };
    const seven = collect(7);
    const all = collect(100);
    expect(seven.lengths).toEqual([7, 7, 7, 7, 2]);
    expect(seven.values).toEqual(all.values);
    expect(all.values[200]).toBeCloseTo((s.images[200] - 0.1307) / 0.3081, 5);
    expect(tf.memory().numTensors).toBe(before);
  });
});
