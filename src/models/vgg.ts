import * as tf from '@tensorflow/tfjs';
import * as ops from '../engine/ops.ts';
import { type Layer, NetBuilder } from './builder.ts';
import type { Model, ModelConfig } from './types.ts';

/** Channel plans (× width/64); 'M' = 2×2 max-pool. CIFAR variant: no pool after the last block. */
export const VGG_PLANS: Record<'vgg11' | 'vgg16' | 'vgg19', Array<number | 'M'>> = {
  vgg11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512],
  vgg16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512],
  vgg19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512],
};

/** VGG for CIFAR: conv3×3(-BN)-ReLU stacks, then 2×2 average pool and one dense classifier. One channel group per conv. */
export function vgg(config: ModelConfig): Model {
  const plan = VGG_PLANS[config.name as keyof typeof VGG_PLANS];
  let [h, w, cin] = config.inputShape;
  const b = new NetBuilder(config);
  const layers: Layer[] = [];
  let i = 0;
  for (const item of plan) {
    if (item === 'M') {
      layers.push((_ctx, x) => ops.maxPool(x as tf.Tensor4D));
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
      continue;
    }
    const group = `features.conv${i}`;
    const cout = b.group(group, Math.max(1, Math.round((item * config.width) / 64)));
    const conv = b.conv(group, 3, cin, cout, 1, 'same', !config.batchNorm, { in: i > 0 ? `features.conv${i - 1}` : undefined, out: group });
    const bn = config.batchNorm ? b.bn(`features.bn${i}`, cout, group) : undefined;
    layers.push((ctx, x) => ops.relu(bn ? bn(ctx, conv(ctx, x)) : conv(ctx, x)));
    cin = cout;
    i++;
  }
  const ph = Math.floor(h / 2);
  const pw = Math.floor(w / 2);
  if (ph < 1 || pw < 1) throw new RangeError(`${config.name} needs inputs of at least 32×32, got ${config.inputShape[0]}×${config.inputShape[1]}`);
  const fc = b.dense('fc', ph * pw * cin, config.numClasses, true, { in: `features.conv${i - 1}`, inRepeat: ph * pw });
  return b.build((ctx, x) => {
    let a: tf.Tensor = x;
    for (const layer of layers) a = layer(ctx, a);
    return fc(ctx, ops.flatten(ops.avgPool(a as tf.Tensor4D)));
  });
}
