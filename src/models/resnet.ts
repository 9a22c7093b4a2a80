import * as tf from '@tensorflow/tfjs';
import * as ops from '../engine/ops.ts';
import { type Layer, NetBuilder } from './builder.ts';
import type { Model, ModelConfig } from './types.ts';

interface BlockPlan {
  name: string;
  cin: number;
  cout: number;
  stride: number;
  /** Channel groups of the block's input and of its output (the residual stream). */
  inGroup: string;
  outGroup: string;
  projected: boolean;
}

/**
 * Basic block: conv3×3-BN-ReLU-conv3×3-BN + shortcut (1×1 conv + BN when the shape changes), ReLU.
 * conv1's outputs are their own channel group; conv2 and the shortcut write the residual stream's group.
 */
function basicBlock(b: NetBuilder, plan: BlockPlan, bn: boolean): Layer {
  const { name, cin, cout, stride, inGroup, outGroup } = plan;
  const inner = b.group(`${name}.conv1`, cout);
  const conv1 = b.conv(`${name}.conv1`, 3, cin, inner, stride, 'same', !bn, { in: inGroup, out: `${name}.conv1` });
  const bn1 = bn ? b.bn(`${name}.bn1`, inner, `${name}.conv1`) : undefined;
  const conv2 = b.conv(`${name}.conv2`, 3, inner, cout, 1, 'same', !bn, { in: `${name}.conv1`, out: outGroup });
  const bn2 = bn ? b.bn(`${name}.bn2`, cout, outGroup) : undefined;
  const sc = plan.projected ? b.conv(`${name}.shortcut`, 1, cin, cout, stride, 'valid', !bn, { in: inGroup, out: outGroup }) : undefined;
  const scBn = plan.projected && bn ? b.bn(`${name}.shortcut_bn`, cout, outGroup) : undefined;
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

/**
 * Channel groups: 'stem' (the stem conv and every layer adding into the same residual stream, i.e.
 * stage 1 when it keeps the stem's width and resolution), 'stage<s>' (the residual stream of a stage
 * entered through a projection shortcut) and '<block>.conv1' (each block's inner channels).
 */
function resnet(config: ModelConfig, stages: Array<{ blocks: number; mult: number; stride: number }>): Model {
  const [, , c] = config.inputShape;
  const w = config.width;
  const b = new NetBuilder(config);
  const stemWidth = b.group('stem', w);
  const stem = b.conv('stem.conv', 3, c, stemWidth, 1, 'same', !config.batchNorm, { out: 'stem' });
  const stemBn = config.batchNorm ? b.bn('stem.bn', stemWidth, 'stem') : undefined;
  const blocks: Layer[] = [];
  let stream = { group: 'stem', nominal: w, size: stemWidth };
  stages.forEach((stage, si) => {
    // Decided on the nominal plan, so a pruned model keeps the same topology.
    const projected = stage.stride !== 1 || w * stage.mult !== stream.nominal;
    const out = projected ? { group: `stage${si + 1}`, nominal: w * stage.mult, size: b.group(`stage${si + 1}`, w * stage.mult) } : stream;
    for (let bi = 0; bi < stage.blocks; bi++) {
      const first = bi === 0;
      const name = `stage${si + 1}.block${bi}`;
      const input = first ? stream : out;
      blocks.push(
        basicBlock(
          b,
          { name, cin: input.size, cout: out.size, stride: first ? stage.stride : 1, inGroup: input.group, outGroup: out.group, projected: first && projected },
          config.batchNorm,
        ),
      );
    }
    stream = out;
  });
  const fc = b.dense('fc', stream.size, config.numClasses, true, { in: stream.group });
  return b.build((ctx, x) => {
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
