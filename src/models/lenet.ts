import * as tf from '@tensorflow/tfjs';
import * as ops from '../engine/ops.ts';
import { NetBuilder } from './builder.ts';
import type { Model, ModelConfig } from './types.ts';

/** LeNet-300-100: 784-300-100-10 MLP (hidden widths × width multiplier), ReLU. No channel groups: no convs. */
export function lenet300(config: ModelConfig): Model {
  const [h, w, c] = config.inputShape;
  const b = new NetBuilder(config);
  const h1 = Math.round(300 * config.width);
  const h2 = Math.round(100 * config.width);
  const fc1 = b.dense('fc1', h * w * c, h1);
  const fc2 = b.dense('fc2', h1, h2);
  const fc3 = b.dense('fc3', h2, config.numClasses);
  return b.build((ctx, x) => {
    const a = ops.relu(fc1(ctx, ops.flatten(x)));
    return fc3(ctx, ops.relu(fc2(ctx, a)));
  });
}

/**
 * LeNet-5 (6 and 16 filters × width): conv5×5 'same' → ReLU → max-pool 2 → conv5×5 'valid' → ReLU →
 * max-pool 2 → 120 → 84 → classes. On 28×28 input fc1 is 400×120 = 48,000 weights. Channel groups: conv1, conv2.
 * With batchNorm (off by default) each conv loses its bias and is followed by BN (bn1, bn2) before the ReLU.
 */
export function lenet5(config: ModelConfig): Model {
  const [h, w, c] = config.inputShape;
  const b = new NetBuilder(config);
  const c1 = b.group('conv1', Math.round(6 * config.width));
  const c2 = b.group('conv2', Math.round(16 * config.width));
  const oh = Math.floor((Math.floor(h / 2) - 4) / 2);
  const ow = Math.floor((Math.floor(w / 2) - 4) / 2);
  if (oh < 1 || ow < 1) throw new RangeError(`lenet5 needs inputs of at least 12×12, got ${h}×${w}`);
  const bn = config.batchNorm;
  const conv1 = b.conv('conv1', 5, c, c1, 1, 'same', !bn, { out: 'conv1' });
  const bn1 = bn ? b.bn('bn1', c1, 'conv1') : undefined;
  const conv2 = b.conv('conv2', 5, c1, c2, 1, 'valid', !bn, { in: 'conv1', out: 'conv2' });
  const bn2 = bn ? b.bn('bn2', c2, 'conv2') : undefined;
  const fc1 = b.dense('fc1', oh * ow * c2, Math.round(120 * config.width), true, { in: 'conv2', inRepeat: oh * ow });
  const fc2 = b.dense('fc2', Math.round(120 * config.width), Math.round(84 * config.width));
  const fc3 = b.dense('fc3', Math.round(84 * config.width), config.numClasses);
  return b.build((ctx, x) => {
    const z1 = conv1(ctx, x);
    let a = ops.maxPool(ops.relu(bn1 ? bn1(ctx, z1) : z1) as tf.Tensor4D);
    const z2 = conv2(ctx, a);
    a = ops.maxPool(ops.relu(bn2 ? bn2(ctx, z2) : z2) as tf.Tensor4D);
    return fc3(ctx, ops.relu(fc2(ctx, ops.relu(fc1(ctx, ops.flatten(a))))));
  });
}
