import * as tf from '@tensorflow/tfjs';
import { KernelComposer } from '../compose.ts';
import { transpose2d } from '../host-layout.ts';

const UNTRANSPOSED = Symbol('pipeline untransposed matmul');

/**
 * Below this many multiply-adds tfjs-wasm's own transposed loop is quicker than a transpose plus
 * XNNPACK (measured: 32×512×10 0.21 vs 0.42 ms; 64×300×100 2.0 vs 1.6 ms).
 */
const MIN_MACS = 1 << 20;

/**
 * tfjs-wasm sends every BatchMatMul with transposeA or transposeB to a scalar loop on one thread,
 * 6–10× slower than its XNNPACK path (a dense layer's weight and input gradients: 64×784·784×300 took
 * 15–19 ms against 2.4 ms untransposed). Large ones are rewritten here as a host transpose of the
 * flagged operand(s) and the untransposed XNNPACK matmul; the result is the same product.
 */
export function registerUntransposedBatchMatMul(backendName: string): void {
  const original = tf.getKernel('BatchMatMul', backendName);
  if (original === undefined || UNTRANSPOSED in original.kernelFunc) return;
  const kernelFunc: tf.KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
    if ((!transposeA && !transposeB) || a.dtype !== 'float32' || b.dtype !== 'float32') return original.kernelFunc(args);
    const [ra, ca] = a.shape.slice(-2);
    const cb = b.shape[b.shape.length - 1];
    const rb = b.shape[b.shape.length - 2];
    const batch = Math.max(sizeOf(a.shape.slice(0, -2)), sizeOf(b.shape.slice(0, -2)));
    if (batch * ra * ca * (transposeB ? rb : cb) < MIN_MACS) return original.kernelFunc(args);
    const k = new KernelComposer(args.backend as tf.KernelBackend, backendName);
    const at = transposeA ? transposeLast2(k, a) : a;
    const bt = transposeB ? transposeLast2(k, b) : b;
    const out = original.kernelFunc({ ...args, inputs: { a: at, b: bt }, attrs: { ...args.attrs, transposeA: false, transposeB: false } }) as tf.TensorInfo;
    k.finishAll([]);
    return out;
  };
  Object.defineProperty(kernelFunc, UNTRANSPOSED, { value: true });
  tf.unregisterKernel('BatchMatMul', backendName);
  tf.registerKernel({ ...original, kernelFunc });
}

const sizeOf = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

/** [..., r, c] → [..., c, r] on the host. */
function transposeLast2(k: KernelComposer, x: tf.TensorInfo): tf.TensorInfo {
  const [r, c] = x.shape.slice(-2);
  const out = k.alloc([...x.shape.slice(0, -2), c, r]);
  const src = k.view(x);
  const dst = k.view(out);
  for (let off = 0; off < src.length; off += r * c) transpose2d(src.subarray(off, off + r * c), r, c, dst.subarray(off, off + r * c));
  return out;
}
