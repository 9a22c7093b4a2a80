import * as tf from '@tensorflow/tfjs';
import { makeBatch } from '../data/batches.ts';
import type { Dataset, Split } from '../data/types.ts';
import * as ops from '../engine/ops.ts';
import type { Model, ParamMap } from '../models/types.ts';
import { countCorrect } from './step.ts';

export interface EvalResult {
  loss: number;
  accuracy: number;
  n: number;
}

/**
 * Mean loss and top-1 accuracy in eval mode (BN running statistics), in dataset order. Each batch's
 * (loss sum, correct) stays on the device; one read at the end, summed on the host in batch order.
 */
export async function evaluate(model: Model, params: ParamMap, dataset: Dataset, split: Split, batchSize = 500): Promise<EvalResult> {
  const perBatch: tf.Tensor[] = [];
  for (let start = 0; start < split.n; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, split.n - start) }, (_, i) => start + i);
    const { x, y } = makeBatch(split, idx, { dataset });
    perBatch.push(
      tf.tidy(() => {
        const logits = model.forward(params, x, false).logits;
        return tf.stack([tf.mul(ops.crossEntropy(logits, y), idx.length), tf.cast(countCorrect(logits, y), 'float32')]);
      }),
    );
    tf.dispose([x, y]);
  }
  const all = tf.stack(perBatch);
  tf.dispose(perBatch);
  const v = await all.data();
  all.dispose();
  let lossSum = 0;
  let correct = 0;
  for (let i = 0; i < v.length; i += 2) {
    lossSum += v[i];
    correct += v[i + 1];
  }
  return { loss: lossSum / split.n, accuracy: correct / split.n, n: split.n };
}
