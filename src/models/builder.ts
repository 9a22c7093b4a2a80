import * as tf from '@tensorflow/tfjs';
import * as ops from '../engine/ops.ts';
import type { ForwardResult, Model, ModelConfig, ParamMap, PrunableTensor, TensorSpec } from './types.ts';

export interface Ctx {
  p: ParamMap;
  training: boolean;
  stats: ForwardResult['bnStats'];
}

export type Layer = (ctx: Ctx, x: tf.Tensor) => tf.Tensor;

/** Declares tensors once and returns the layer closures that use them, so specs and forward never drift. */
export class NetBuilder {
  readonly specs: TensorSpec[] = [];

  private add(spec: TensorSpec): void {
    if (this.specs.some((s) => s.name === spec.name)) throw new Error(`duplicate tensor name ${spec.name}`);
    this.specs.push(spec);
  }

  conv(name: string, k: number, cin: number, cout: number, stride = 1, pad: ops.Padding = 'same', bias = false): Layer {
    this.add({ name, layer: name, shape: [k, k, cin, cout], kind: 'conv', init: { type: 'kaiming-normal-fan-out' } });
    if (bias) this.add({ name: `${name}.bias`, layer: name, shape: [cout], kind: 'bias', init: { type: 'uniform-fan-in', fanIn: k * k * cin } });
    return (ctx, x) => {
      const y = ops.conv2d(x as tf.Tensor4D, ctx.p[name] as tf.Tensor4D, stride, pad);
      return bias ? tf.add(y, ctx.p[`${name}.bias`]) : y;
    };
  }

  dense(name: string, fin: number, fout: number, bias = true): Layer {
    this.add({ name, layer: name, shape: [fin, fout], kind: 'dense', init: { type: 'uniform-fan-in', fanIn: fin } });
    if (bias) this.add({ name: `${name}.bias`, layer: name, shape: [fout], kind: 'bias', init: { type: 'uniform-fan-in', fanIn: fin } });
    return (ctx, x) => ops.dense(x as tf.Tensor2D, ctx.p[name] as tf.Tensor2D, bias ? (ctx.p[`${name}.bias`] as tf.Tensor1D) : undefined);
  }

  bn(name: string, c: number): Layer {
    this.add({ name: `${name}.gamma`, layer: name, shape: [c], kind: 'bn-gamma', init: { type: 'const', value: 1 } });
    this.add({ name: `${name}.beta`, layer: name, shape: [c], kind: 'bn-beta', init: { type: 'const', value: 0 } });
    this.add({ name: `${name}.running_mean`, layer: name, shape: [c], kind: 'bn-mean', init: { type: 'const', value: 0 } });
    this.add({ name: `${name}.running_var`, layer: name, shape: [c], kind: 'bn-var', init: { type: 'const', value: 1 } });
    return (ctx, x) => {
      const running = {
        mean: ctx.p[`${name}.running_mean`] as tf.Tensor1D,
        variance: ctx.p[`${name}.running_var`] as tf.Tensor1D,
      };
      const { y, batch } = ops.batchNorm(x, ctx.p[`${name}.gamma`] as tf.Tensor1D, ctx.p[`${name}.beta`] as tf.Tensor1D, running, ctx.training);
      if (batch) ctx.stats.set(name, batch);
      return y;
    };
  }

  build(config: ModelConfig, body: (ctx: Ctx, x: tf.Tensor4D) => tf.Tensor): Model {
    const weights = this.specs.filter((s) => s.kind === 'conv' || s.kind === 'dense');
    const prunable: PrunableTensor[] = weights.map((s, index) => {
      const [fanIn, fanOut, kernelSize] =
        s.kind === 'conv' ? [s.shape[0] * s.shape[1] * s.shape[2], s.shape[0] * s.shape[1] * s.shape[3], s.shape[0] * s.shape[1]] : [s.shape[0], s.shape[1], 1];
      return {
        name: s.name,
        shape: s.shape,
        kind: s.kind as 'conv' | 'dense',
        size: s.shape.reduce((a, b) => a * b, 1),
        fanIn,
        fanOut,
        kernelSize,
        index,
        depth: weights.length > 1 ? index / (weights.length - 1) : 0,
      };
    });
    return {
      config,
      specs: this.specs,
      prunable,
      buffers: this.specs.filter((s) => s.kind === 'bn-mean' || s.kind === 'bn-var').map((s) => s.name),
      forward: (p, x, training) => {
        const ctx: Ctx = { p, training, stats: new Map() };
        const logits = body(ctx, x) as tf.Tensor2D;
        return { logits, bnStats: ctx.stats };
      },
    };
  }
}
