import * as tf from '@tensorflow/tfjs';
import * as ops from '../../src/engine/ops.ts';
import { NetBuilder } from '../../src/models/builder.ts';
import type { Model } from '../../src/models/index.ts';
import type { ScoringBatches } from '../../src/scoring/features.ts';

// Softmax regression on D=6 inputs, C=3 classes: logits = x·W (no bias), everything in closed form.
export const N = 8;
export const D = 6;
export const C = 3;
export function softmaxRegression(): Model {
  const b = new NetBuilder({ name: 'lenet300', width: 1, inputShape: [1, D, 1], numClasses: C, batchNorm: false });
  const fc = b.dense('fc', D, C, false);
  return b.build((ctx, x) => fc(ctx, ops.flatten(x)));
}
export const X = Array.from({ length: N }, (_, n) => Array.from({ length: D }, (_, d) => Math.sin(1.3 * n + 0.7 * d) + 0.1 * d));
export const Y = Array.from({ length: N }, (_, n) => n % C);
export const W0 = Array.from({ length: D }, (_, d) => Array.from({ length: C }, (_, c) => 0.3 * Math.cos(d + 2 * c) + (c === 1 ? 0.5 : 0)));
/** The N examples as a scoring sample in chunks of `chunk`. */
export const batches = (chunk: number): ScoringBatches => ({
  n: N,
  chunks: function* () {
    for (let s = 0; s < N; s += chunk) {
      const rows = X.slice(s, s + chunk);
      yield { x: tf.tensor4d(rows.flat(), [rows.length, 1, D, 1]), y: tf.tensor1d(Y.slice(s, s + chunk), 'int32') };
    }
  },
});
