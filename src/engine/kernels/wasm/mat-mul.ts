import * as tf from '@tensorflow/tfjs';
import type { KernelComposer } from '../compose.ts';
import { packFilter } from './conv2d.ts';
import { simdKernels } from './simd-kernels.ts';

/** Below this many multiply-adds a block costs more to hand to another thread than it saves. */
const MIN_MACS_PER_BLOCK = 1 << 18;

/**
 * a [1, M, K] · b [1, K, N] → [1, M, N] on the project's SIMD Conv2D (conv2d.wat) as a 1×1
 * convolution of M positions with K input and N output channels, on all threads. Each output sums
 * over k in order, from 0, one multiply and one add at a time, as XNNPACK's fully-connected kernel
 * does, so the bits are XNNPACK's. N that is not a multiple of 8 runs on zero-padded columns, cut off
 * afterwards. Returns undefined where the kernels have not started.
 */
export function simdMatMul(k: KernelComposer, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo | undefined {
  const pool = simdKernels();
  if (pool === undefined) return undefined;
  const [, m, kk] = a.shape;
  const n = b.shape[2];
  const n8 = Math.ceil(n / 8) * 8;
  const packed = k.alloc([n8 / 8, kk, 8]);
  const out = k.alloc([1, m, n]);
  const y = n8 === n ? out : k.alloc([m, n8]);
  // Views after the last allocation: the heap may move when it grows.
  packFilter(k.view(b), kk, n, k.view(packed));
  const at = (t: tf.TensorInfo) => k.view(t).byteOffset;
  const groups = Math.ceil(m / 4);
  const wFirst = kk * n8 > m * kk ? 1 : 0;
  pool.run('conv2d', [at(a), at(packed), at(y), 1, 1, m, kk, 1, m, n8, 1, 1, 1, 1, wFirst], groups * (n8 / 8), Math.ceil(MIN_MACS_PER_BLOCK / (4 * kk * 8)));
  if (y !== out) {
    const src = k.view(y);
    const dst = k.view(out);
    for (let r = 0; r < m; r++) dst.set(src.subarray(r * n8, r * n8 + n), r * n);
  }
  return out;
}
