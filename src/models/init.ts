import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.ts';
import type { Model, ParamMap, TensorSpec } from './types.ts';

/** Host-side values of one tensor, drawn from its own stream (so adding a layer never shifts the others). */
export function initValues(spec: TensorSpec, seed: number, index: number): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const init = spec.init;
  if (init.type === 'const') return out.fill(init.value);
  const rng = new Rng(seed).fork(index);
  if (init.type === 'kaiming-normal-fan-out') {
    const [kh, kw, , cout] = spec.shape;
    const std = Math.sqrt(2 / (kh * kw * cout));
    for (let i = 0; i < n; i++) out[i] = std * rng.normal();
  } else {
    const bound = 1 / Math.sqrt(init.fanIn);
    for (let i = 0; i < n; i++) out[i] = bound * (2 * rng.next() - 1);
  }
  return out;
}

/** θ₀: identical on every backend for the same seed. */
export function initParams(model: Model, seed: number): ParamMap {
  const params: ParamMap = {};
  model.specs.forEach((spec, i) => {
    params[spec.name] = tf.tensor(initValues(spec, seed, i), spec.shape);
  });
  return params;
}
