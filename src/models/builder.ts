import * as tf from '@tensorflow/tfjs';
import * as ops from '../engine/ops.ts';
import { usage } from '../util/errors.ts';
import type { ChannelAxes, ChannelGroup, ForwardOptions, ForwardResult, Model, ModelConfig, ParamMap, PrunableTensor, TensorSpec } from './types.ts';

export interface Ctx {
  p: ParamMap;
  training: boolean;
  stats: ForwardResult['bnStats'];
  opts: ForwardOptions;
}

export type Layer = (ctx: Ctx, x: tf.Tensor) => tf.Tensor;

function gated(ctx: Ctx, group: string | undefined, y: tf.Tensor): tf.Tensor {
  const gate = group ? ctx.opts.gates?.[group] : undefined;
  return gate ? tf.mul(y, gate) : y;
}

/** Declares tensors once and returns the layer closures that use them, so specs and forward never drift. */
export class NetBuilder {
  readonly specs: TensorSpec[] = [];
  private readonly groups: ChannelGroup[] = [];

  constructor(private readonly config: ModelConfig) {}

  private add(spec: TensorSpec): void {
    if (!spec.shape.every((d) => Number.isInteger(d) && d >= 1)) {
      usage(`${this.config.name} at width ${this.config.width} gives ${spec.name} the shape ${spec.shape.join('×')}, an empty layer: pass a larger --width`);
    }
    if (this.specs.some((s) => s.name === spec.name)) throw new Error(`duplicate tensor name ${spec.name}`);
    this.specs.push(spec);
  }

  /** Declares a channel group; its size is the config's override if there is one, else `size`. */
  group(name: string, size: number): number {
    if (this.groups.some((g) => g.name === name)) throw new Error(`duplicate channel group ${name}`);
    const n = this.config.channels?.[name] ?? size;
    if (this.config.channels?.[name] !== undefined && !(Number.isInteger(n) && n >= 1)) {
      usage(`channel group ${name} of ${this.config.name} needs a positive integer channel count, got ${n}`);
    }
    this.groups.push({ name, size: n });
    return n;
  }

  /** A conv with a bias gates its output itself; without one (a BN follows) the BN does. */
  conv(name: string, k: number, cin: number, cout: number, stride = 1, pad: ops.Padding = 'same', bias = false, ch?: ChannelAxes): Layer {
    this.add({ name, layer: name, shape: [k, k, cin, cout], kind: 'conv', init: { type: 'kaiming-normal-fan-out' }, channels: ch });
    if (bias)
      this.add({
        name: `${name}.bias`,
        layer: name,
        shape: [cout],
        kind: 'bias',
        init: { type: 'uniform-fan-in', fanIn: k * k * cin },
        channels: ch?.out ? { out: ch.out } : undefined,
      });
    return (ctx, x) => {
      const y = ops.conv2d(x as tf.Tensor4D, ctx.p[name] as tf.Tensor4D, stride, pad);
      if (ctx.opts.flops) ctx.opts.flops.total += 2 * k * k * cin * cout * y.shape[1]! * y.shape[2]!;
      return bias ? gated(ctx, ch?.out, tf.add(y, ctx.p[`${name}.bias`])) : y;
    };
  }

  dense(name: string, fin: number, fout: number, bias = true, ch?: ChannelAxes): Layer {
    this.add({ name, layer: name, shape: [fin, fout], kind: 'dense', init: { type: 'uniform-fan-in', fanIn: fin }, channels: ch });
    if (bias)
      this.add({
        name: `${name}.bias`,
        layer: name,
        shape: [fout],
        kind: 'bias',
        init: { type: 'uniform-fan-in', fanIn: fin },
        channels: ch?.out ? { out: ch.out } : undefined,
      });
    return (ctx, x) => {
      if (ctx.opts.flops) ctx.opts.flops.total += 2 * fin * fout;
      const y = ops.dense(x as tf.Tensor2D, ctx.p[name] as tf.Tensor2D, bias ? (ctx.p[`${name}.bias`] as tf.Tensor1D) : undefined);
      return gated(ctx, ch?.out, y);
    };
  }

  bn(name: string, c: number, group?: string): Layer {
    const channels = group ? { out: group } : undefined;
    this.add({ name: `${name}.gamma`, layer: name, shape: [c], kind: 'bn-gamma', init: { type: 'const', value: 1 }, channels });
    this.add({ name: `${name}.beta`, layer: name, shape: [c], kind: 'bn-beta', init: { type: 'const', value: 0 }, channels });
    this.add({ name: `${name}.running_mean`, layer: name, shape: [c], kind: 'bn-mean', init: { type: 'const', value: 0 }, channels });
    this.add({ name: `${name}.running_var`, layer: name, shape: [c], kind: 'bn-var', init: { type: 'const', value: 1 }, channels });
    return (ctx, x) => {
      const running = {
        mean: ctx.p[`${name}.running_mean`] as tf.Tensor1D,
        variance: ctx.p[`${name}.running_var`] as tf.Tensor1D,
      };
      const { y, batch } = ops.batchNorm(x, ctx.p[`${name}.gamma`] as tf.Tensor1D, ctx.p[`${name}.beta`] as tf.Tensor1D, running, ctx.training);
      if (batch) ctx.stats.set(name, batch);
      return gated(ctx, group, y);
    };
  }

  build(body: (ctx: Ctx, x: tf.Tensor4D) => tf.Tensor): Model {
    const config = this.config;
    const unknown = Object.keys(config.channels ?? {}).filter((g) => !this.groups.some((d) => d.name === g));
    if (unknown.length)
      usage(`${config.name} has no channel group ${unknown.join(', ')}: its groups are ${this.groups.map((g) => g.name).join(', ') || 'none'}`);
    for (const g of this.groups) {
      if (!(Number.isInteger(g.size) && g.size >= 1)) usage(`channel group ${g.name} of ${config.name} needs a positive integer channel count, got ${g.size}`);
    }
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
      channelGroups: this.groups,
      forward: (p, x, training, opts = {}) => {
        const ctx: Ctx = { p, training, stats: new Map(), opts };
        const logits = body(ctx, x) as tf.Tensor2D;
        return { logits, bnStats: ctx.stats };
      },
    };
  }
}
