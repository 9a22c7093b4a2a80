import * as tf from '@tensorflow/tfjs';
import { usage } from '../util/errors.ts';
import { Rng } from '../util/rng.ts';
import { augmentInto } from './augment.ts';
import { normalizeInto } from './normalize.ts';
import { imageSize, type Dataset, type Split } from './types.ts';

const EPOCH_ORDER_STREAM = 0x0e70c4;

/** The training order of epoch `epoch`: a permutation of 0..n−1 that depends only on (seed, epoch), so a resumed run can rebuild it. */
export function epochOrder(n: number, seed: number, epoch: number): Int32Array {
  return new Rng((seed ^ EPOCH_ORDER_STREAM) >>> 0).fork(epoch).permutation(n);
}

/** Consecutive slices of `order` of length batchSize (the last one shorter unless dropLast). */
export function* iterateBatches(split: Split, order: Int32Array, batchSize: number, opts: { dropLast?: boolean } = {}): Generator<Int32Array> {
  if (!Number.isInteger(batchSize) || batchSize < 1) usage(`batch size must be a positive integer, got ${batchSize}; fix the batch size`);
  if (order.length > split.n) usage(`batch order has ${order.length} entries but the split has ${split.n} records; rebuild the order for this split`);
  for (let start = 0; start < order.length; start += batchSize) {
    const end = Math.min(start + batchSize, order.length);
    if (opts.dropLast && end - start < batchSize) return;
    yield order.subarray(start, end);
  }
}

export interface BatchOptions {
  dataset: Pick<Dataset, 'mean' | 'std' | 'augment'>;
  /** Train-time augmentation source; applied only when given and dataset.augment is true. */
  augmentRng?: Rng;
}

/**
 * The normalized images and int32 labels of `indices` as tensors x [B, H, W, C] and y [B].
 * The caller owns (and disposes) both.
 */
export function makeBatch(split: Split, indices: ArrayLike<number>, opts: BatchOptions): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const [h, w, c] = split.shape;
  const size = imageSize(split.shape);
  const b = indices.length;
  const { mean, std } = opts.dataset;
  if (mean.length !== c || std.length !== c) usage(`normalization has ${mean.length} channel(s) but images have ${c}; use the dataset's own mean/std`);
  const augmentRng = opts.dataset.augment ? opts.augmentRng : undefined;
  const x = new Float32Array(b * size);
  const y = new Int32Array(b);
  const scratch = augmentRng ? new Float32Array(size) : undefined;
  for (let i = 0; i < b; i++) {
    const index = indices[i];
    if (!(index >= 0 && index < split.n)) usage(`batch index ${index} is outside 0..${split.n - 1}; build batches from this split's own order`);
    y[i] = split.labels[index];
    if (scratch && augmentRng) {
      augmentInto(split.images, index * size, scratch, 0, split.shape, augmentRng);
      normalizeInto(scratch, 0, size, x, i * size, mean, std);
    } else {
      normalizeInto(split.images, index * size, size, x, i * size, mean, std);
    }
  }
  return { x: tf.tensor4d(x, [b, h, w, c]), y: tf.tensor1d(y, 'int32') };
}
