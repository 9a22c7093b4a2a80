import * as tf from '@tensorflow/tfjs';
import { batchNormGradients } from './batch-norm.ts';
import { comparisonGradients } from './comparison.ts';
import { convGradients } from './conv.ts';
import { poolGradients } from './pool.ts';
import { recomputedGradients } from './recomputed.ts';
import { reluGradients } from './relu.ts';
import { stridedSliceGradient } from './strided-slice.ts';

let registered = false;

/**
 * Makes double backward (Hessian-vector products) exact in tfjs 4.22: adds the gradients tfjs lacks
 * (Conv2DBackpropFilter, MaxPoolGrad, AvgPoolGrad, StridedSlice, comparisons) and replaces the ones
 * that differentiate a saved *output*, which tfjs stores as a tape-disconnected copy, so a second
 * derivative through them silently drops terms. Global (all backends); idempotent.
 */
export function registerSecondOrderGradients(): void {
  if (registered) return;
  registered = true;
  const configs = [
    ...convGradients,
    ...poolGradients,
    ...comparisonGradients,
    ...recomputedGradients,
    ...reluGradients,
    stridedSliceGradient,
    ...batchNormGradients,
  ];
  const quiet = tf.env().getBool('DEBUG');
  for (const config of configs) {
    if (quiet) tf.env().set('DEBUG', false);
    tf.registerGradient(config);
  }
}
