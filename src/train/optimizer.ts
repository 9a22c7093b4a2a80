import * as tf from '@tensorflow/tfjs';
import type { MaskTensors } from '../masks/masks.ts';
import type { ParamMap } from '../models/types.ts';
import { sgdStep } from '../engine/sgd-step.ts';
import type { TrainConfig } from './config.ts';

export interface OptimizerState {
  /** slot name ('momentum', 'm', 'v') → parameter name → tensor */
  slots: Record<string, Record<string, tf.Tensor>>;
  /** Steps taken (Adam's bias correction). */
  t: number;
}

/**
 * SGD (momentum, Nesterov; one fused step per tensor where the backend has it, engine/sgd-step.ts)
 * and Adam in PyTorch's conventions, with L2 weight decay added to the gradient. With masks, pruned
 * entries are set to exactly zero after every step, in the parameters and in every optimizer slot,
 * so they never regrow.
 */
export class Optimizer {
  private state: OptimizerState = { slots: {}, t: 0 };

  constructor(private readonly config: TrainConfig['optimizer']) {}

  step(params: ParamMap, grads: Record<string, tf.Tensor>, lr: number, masks?: MaskTensors): void {
    this.state.t += 1;
    const c = this.config;
    for (const [name, g] of Object.entries(grads)) {
      const theta = params[name];
      const mask = masks?.[name];
      if (c.type === 'sgd') {
        const prev = this.state.slots.momentum?.[name];
        const out = sgdStep(theta, g, prev, mask, { lr, momentum: c.momentum, weightDecay: c.weightDecay, nesterov: c.nesterov });
        if (out.momentum) this.setSlot('momentum', name, out.momentum);
        theta.dispose();
        params[name] = out.theta;
        continue;
      }
      const next = tf.tidy(() => {
        const d = c.weightDecay > 0 ? tf.add(g, tf.mul(theta, c.weightDecay)) : g;
        const stepped = tf.sub(theta, tf.mul(this.adam(name, d), lr));
        return mask ? tf.mul(stepped, mask) : stepped;
      });
      if (mask) this.maskSlots(name, mask);
      theta.dispose();
      params[name] = next;
    }
  }

  private setSlot(slot: string, name: string, value: tf.Tensor): tf.Tensor {
    const slots = (this.state.slots[slot] ??= {});
    slots[name]?.dispose();
    slots[name] = tf.keep(value);
    return value;
  }

  private adam(name: string, d: tf.Tensor): tf.Tensor {
    const [b1, b2] = this.config.betas;
    const t = this.state.t;
    const m0 = this.state.slots.m?.[name] ?? tf.zerosLike(d);
    const v0 = this.state.slots.v?.[name] ?? tf.zerosLike(d);
    const m = this.setSlot('m', name, tf.add(tf.mul(m0, b1), tf.mul(d, 1 - b1)));
    const v = this.setSlot('v', name, tf.add(tf.mul(v0, b2), tf.mul(tf.square(d), 1 - b2)));
    const mHat = tf.div(m, 1 - b1 ** t);
    const vHat = tf.div(v, 1 - b2 ** t);
    return tf.div(mHat, tf.add(tf.sqrt(vHat), this.config.eps));
  }

  private maskSlots(name: string, mask: tf.Tensor): void {
    for (const slots of Object.values(this.state.slots)) {
      const s = slots[name];
      if (s) {
        slots[name] = tf.tidy(() => tf.mul(s, mask));
        s.dispose();
      }
    }
  }

  getState(): OptimizerState {
    return this.state;
  }

  setState(state: OptimizerState): void {
    this.dispose();
    this.state = state;
  }

  dispose(): void {
    for (const slots of Object.values(this.state.slots)) tf.dispose(Object.values(slots));
    this.state = { slots: {}, t: 0 };
  }
}
