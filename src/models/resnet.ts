import * as tf from '@tensorflow/tfjs';
import * as ops from '../engine/ops.ts';
import { type Layer, NetBuilder } from './builder.ts';
import type { Model, ModelConfig } from './types.ts';

/** Basic block: conv3×3-BN-ReLU-conv3×3-BN + shortcut (1×1 conv + BN when the shape changes), ReLU. */
function basicBlock(b: NetBuilder, name: string, cin: number, cout: number, stride: number, bn: boolean): Layer {
  const conv1 = b.conv(`${name}.conv1`, 3, cin, cout, stride, 'same', !bn);
  const bn1 = bn ? b.bn(`${name}.bn1`, cout) : undefined;
  const conv2 = b.conv(`${name}.conv2`, 3, cout, cout, 1, 'same', !bn);
  const bn2 = bn ? b.bn(`${name}.bn2`, cout) : undefined;
  const projected = stride !== 1 || cin !== cout;
  const sc = projected ? b.conv(`${name}.shortcut`, 1, cin, cout, stride, 'valid', !bn) : undefined;
  const scBn = projected && bn ? b.bn(`${name}.shortcut_bn`, cout) : undefined;
  return (ctx, x) => {
    let o = conv1(ctx, x);
    if (bn1) o = bn1(ctx, o);
    o = conv2(ctx, ops.relu(o));
    if (bn2) o = bn2(ctx, o);
    let s = x;
    if (sc) {
      s = sc(ctx, x);
      if (scBn) s = scBn(ctx, s);
    }
    return ops.relu(tf.add(o, s));
  };
}

function resnet(config: ModelConfig, stages: Array<{ blocks: number; mult: number; stride: number }>): Model {
  const [, , c] = config.inputShape;
  const w = config.width;
  const b = new NetBuilder();
  const stem = b.conv('stem.conv', 3, c, w, 1, 'same', !config.batchNorm);
  const stemBn = config.batchNorm ? b.bn('stem.bn', w) : undefined;
  const blocks: Layer[] = [];
  let cin = w;
  stages.forEach((stage, si) => {
    for (let bi = 0; bi < stage.blocks; bi++) {
      const cout = w * stage.mult;
      blocks.push(basicBlock(b, `stage${si + 1}.block${bi}`, cin, cout, bi === 0 ? stage.stride : 1, config.batchNorm));
      cin = cout;
    }
  });
  const fc = b.dense('fc', cin, config.numClasses);
  return b.build(config, (ctx, x) => {
    let h = stem(ctx, x);
    if (stemBn) h = stemBn(ctx, h);
    h = ops.relu(h);
    for (const block of blocks) h = block(ctx, h);
    return fc(ctx, ops.globalAvgPool(h as tf.Tensor4D));
  });
}

/** CIFAR ResNet-18: 3×3 stem, no max-pool, stages of 2 blocks at w, 2w, 4w, 8w (w = 64 in the paper). */
export const resnet18 = (config: ModelConfig) =>
  resnet(config, [
    { blocks: 2, mult: 1, stride: 1 },
    { blocks: 2, mult: 2, stride: 2 },
    { blocks: 2, mult: 4, stride: 2 },
    { blocks: 2, mult: 8, stride: 2 },
  ]);

/** CIFAR ResNet-(6n+2): three stages of n blocks at w, 2w, 4w (w = 16 in He et al.; GraSP doubles it). */
export const resnetCifar = (n: number) => (config: ModelConfig) =>
  resnet(config, [
    { blocks: n, mult: 1, stride: 1 },
    { blocks: n, mult: 2, stride: 2 },
    { blocks: n, mult: 4, stride: 2 },
  ]);
