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

/** Mean loss and top-1 accuracy in eval mode (BN running statistics), in dataset order. */
export function evaluate(model: Model, params: ParamMap, dataset: Dataset, split: Split, batchSize = 500): EvalResult {
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < split.n; start += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, split.n - start) }, (_, i) => start + i);
    const { x, y } = makeBatch(split, idx, { dataset });
    const [l, c] = tf.tidy(() => {
      const logits = model.forward(params, x, false).logits;
      return [tf.mul(ops.crossEntropy(logits, y), idx.length).dataSync()[0], countCorrect(logits, y).dataSync()[0]];
    });
    lossSum += l;
    correct += c;
    tf.dispose([x, y]);
  }
  return { loss: lossSum / split.n, accuracy: correct / split.n, n: split.n };
}
