import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.ts';

/**
 * Runs `fn` on `backend` and reads its outputs back asynchronously (webgpu in Node has no
 * synchronous readback). Tensors are freed; the count of live tensors must not grow.
 */
export async function computeOn(backend: string, fn: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await initBackend(backend);
  if (tf.getBackend() !== backend) throw new Error(`expected backend ${backend}, running ${tf.getBackend()}`);
  const before = tf.memory().numTensors;
  const outs = tf.tidy(() => {
    const o = fn();
    return Array.isArray(o) ? o : [o];
  });
  const values: Float32Array[] = [];
  for (const o of outs) values.push((await o.data()) as Float32Array);
  tf.dispose(outs);
  if (tf.memory().numTensors !== before) throw new Error(`${backend}: ${tf.memory().numTensors - before} tensors leaked`);
  return values;
}

export { relErr } from './helpers.ts';
