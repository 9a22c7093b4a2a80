import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';

/** Relative L2 error ‖a − b‖ / max(‖b‖, tiny), computed in float64 on the host. */
export function relErr(a: tf.Tensor | Float32Array | number[], b: tf.Tensor | Float32Array | number[]): number {
  const x = a instanceof tf.Tensor ? a.dataSync() : a;
  const y = b instanceof tf.Tensor ? b.dataSync() : b;
  if (x.length !== y.length) throw new Error(`length mismatch ${x.length} vs ${y.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < x.length; i++) {
    num += (x[i] - y[i]) ** 2;
    den += y[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

/** Runs `fn` on the named backend and returns host copies of its outputs. */
export async function onBackend(name: 'cpu' | 'wasm', fn: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await initBackend(name);
  return tf.tidy(() => {
    const out = fn();
    return (Array.isArray(out) ? out : [out]).map((t) => t.dataSync() as Float32Array);
  });
}

/** Deterministic host-side normal samples (so inputs are identical on every backend). */
export function randn(shape: number[], seed: number, scale = 1): tf.Tensor {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = scale * Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  return tf.tensor(data, shape);
}

/** Runs `fn` on `backend` inside a tidy scope and asserts it leaks no tensors (return host arrays). */
export async function onTidy<T>(backend: 'cpu' | 'wasm', fn: () => T): Promise<T> {
  await initBackend(backend);
  expect(tf.getBackend()).toBe(backend);
  const before = tf.memory().numTensors;
  let out: T | undefined;
  tf.tidy(() => {
    out = fn();
  });
  expect(tf.memory().numTensors).toBe(before);
  return out as T;
}
