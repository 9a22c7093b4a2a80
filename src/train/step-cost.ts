import * as tf from '@tensorflow/tfjs';
import { flopsPerExample } from '../models/shrink.ts';
import { parameterCount, type Model, type ParamMap } from '../models/index.ts';
import { sgd, trainStep } from './train-step.ts';
import { medianMs, settle } from '../engine/timing.ts';

export interface StepCost {
  /** Trainable parameters (weights, biases, BN γ/β). */
  params: number;
  flops_per_example: number;
  forward_ms: number;
  /** One SGD-momentum step: forward, backward, update, BN statistics. */
  train_step_ms: number;
  /** Peak bytes of live tensors during one train step (weights, optimizer state, activations, gradients). */
  peak_bytes: number;
}

/** Measured cost of training `model` at this batch size, on random inputs (values do not change the cost). */
export async function stepCost(model: Model, params: ParamMap, batch: number, repeat: number): Promise<StepCost> {
  const p: ParamMap = Object.fromEntries(Object.entries(params).map(([n, t]) => [n, tf.clone(t)]));
  const [h, w, c] = model.config.inputShape;
  const x = tf.randomNormal([batch, h, w, c], 0, 1, 'float32', 1) as tf.Tensor4D;
  const y = tf.tensor1d(
    Array.from({ length: batch }, (_, i) => i % model.config.numClasses),
    'int32',
  );
  const { optimizer, lr } = sgd(0.01, 0.9);
  const step = () => trainStep(model, p, optimizer, x, y, lr);
  await step(); // creates the optimizer state, so the profile below sees a steady-state step
  const profile = await tf.profile(() => step());
  const cost: StepCost = {
    params: parameterCount(model),
    flops_per_example: flopsPerExample(model, p),
    forward_ms: await medianMs(() => settle(tf.tidy(() => model.forward(p, x, true).logits)), repeat),
    train_step_ms: await medianMs(step, repeat),
    peak_bytes: profile.peakBytes,
  };
  optimizer.dispose();
  tf.dispose([x, y, ...Object.values(p)]);
  return cost;
}

export interface CostRatios {
  train_step: number;
  forward: number;
  flops: number;
  params: number;
  peak_bytes: number;
}

/** How many times cheaper `b` is than `a` on every measure (a ÷ b, 3 decimals). */
export function costRatios(a: StepCost, b: StepCost): CostRatios {
  const ratio = (x: number, y: number) => Math.round((x / y) * 1000) / 1000;
  return {
    train_step: ratio(a.train_step_ms, b.train_step_ms),
    forward: ratio(a.forward_ms, b.forward_ms),
    flops: ratio(a.flops_per_example, b.flops_per_example),
    params: ratio(a.params, b.params),
    peak_bytes: ratio(a.peak_bytes, b.peak_bytes),
  };
}
