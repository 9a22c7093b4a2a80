import type * as tf from '@tensorflow/tfjs';
import { usage } from '../util/errors.ts';
import { makeBatch } from './batches.ts';
import { imageSize, type Dataset, type Split } from './types.ts';

/**
 * The deterministic scoring data (docs/guide.md, "Pruning at initialization"): the first `samplesPerClass`
 * examples of each class of the TRAIN split, kept in dataset order (not grouped by class), raw
 * pixels, no augmentation.
 */
export function scoringSample(dataset: Dataset, samplesPerClass: number): Split {
  if (!Number.isInteger(samplesPerClass) || samplesPerClass < 1) {
    usage(`samples per class must be a positive integer, got ${samplesPerClass}; fix --samples-per-class`);
  }
  const { train, numClasses } = dataset;
  const taken = new Int32Array(numClasses);
  const picked: number[] = [];
  const wanted = samplesPerClass * numClasses;
  for (let i = 0; i < train.n && picked.length < wanted; i++) {
    const y = train.labels[i];
    if (taken[y] < samplesPerClass) {
      taken[y]++;
      picked.push(i);
    }
  }
  const short = Array.from(taken).findIndex((k) => k < samplesPerClass);
  if (short >= 0) {
    usage(
      `${dataset.name}: class ${short} has only ${taken[short]} training examples, fewer than the ${samplesPerClass} samples per class asked; lower --samples-per-class`,
    );
  }
  const size = imageSize(train.shape);
  const images = new Float32Array(picked.length * size);
  picked.forEach((src, i) => images.set(train.images.subarray(src * size, (src + 1) * size), i * size));
  const labels = Int32Array.from(picked, (i) => train.labels[i]);
  return { images, labels, n: picked.length, shape: [...train.shape] as Split['shape'] };
}

/** Normalized tensors of a sample in order, `chunkSize` examples at a time (the last chunk may be shorter). The caller disposes each. */
export function* sampleChunks(dataset: Dataset, sample: Split, chunkSize: number): Generator<{ x: tf.Tensor4D; y: tf.Tensor1D }> {
  if (!Number.isInteger(chunkSize) || chunkSize < 1) usage(`chunk size must be a positive integer, got ${chunkSize}; fix the chunk size`);
  for (let start = 0; start < sample.n; start += chunkSize) {
    const end = Math.min(start + chunkSize, sample.n);
    const indices = Array.from({ length: end - start }, (_, i) => start + i);
    yield makeBatch(sample, indices, { dataset });
  }
}
