import * as tf from '@tensorflow/tfjs';
import { registerSgdStepKernel, type SgdStepAttrs } from '../../sgd-step.ts';
import { MIN_ELEMENTS_PER_BLOCK, simdKernels } from './simd-kernels.ts';

type HeapBackend = tf.KernelBackend & {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
};

const f32Bits = (x: number) => new Int32Array(Float32Array.of(x).buffer)[0];

/**
 * One pass per parameter tensor instead of the 5–8 tfjs ops (and their scalar uploads) of the
 * composed step, on all threads (sgd-step.wat). Without the SIMD kernels, the same arithmetic as a
 * host loop with every operation rounded to float32.
 */
export function registerSgdStep(backendName: string): void {
  registerSgdStepKernel(backendName, ({ theta, g, prev, mask }, attrs, backend) => {
    const { lr, momentum, weightDecay, nesterov } = attrs;
    const be = backend as HeapBackend;
    const n = tf.util.sizeFromShape(theta.shape);
    const flags = (weightDecay > 0 ? 1 : 0) | (momentum !== 0 ? 2 : 0) | (prev ? 4 : 0) | (nesterov ? 8 : 0) | (mask ? 16 : 0);
    const outTheta = be.makeOutput(theta.shape, 'float32');
    const outB = momentum !== 0 ? be.makeOutput(theta.shape, 'float32') : undefined;
    // Views after the last allocation: growing the heap detaches earlier ones.
    const pool = simdKernels();
    if (pool !== undefined) {
      const at = (t: tf.TensorInfo | undefined) => (t === undefined ? 0 : be.typedArrayFromHeap(t).byteOffset);
      const args = [at(theta), at(g), at(prev), at(mask), at(outTheta), at(outB), n, f32Bits(lr), f32Bits(momentum), f32Bits(weightDecay), flags];
      pool.run('sgdStep', args, Math.ceil(n / 4), MIN_ELEMENTS_PER_BLOCK / 4);
    } else {
      const view = (t: tf.TensorInfo | undefined) => (t === undefined ? undefined : be.typedArrayFromHeap(t));
      hostSgdStep(view(theta)!, view(g)!, view(prev), view(mask), view(outTheta)!, view(outB), attrs);
    }
    return outB ? [outTheta, outB] : [outTheta];
  });
}

/** sgd-step.wat's arithmetic in JS: Math.fround after every operation, as float32 kernels round. */
export function hostSgdStep(
  theta: Float32Array,
  g: Float32Array,
  prev: Float32Array | undefined,
  mask: Float32Array | undefined,
  outTheta: Float32Array,
  outB: Float32Array | undefined,
  { lr, momentum, weightDecay, nesterov }: SgdStepAttrs,
): void {
  const f = Math.fround;
  const [lr32, mu, wd] = [f(lr), f(momentum), f(weightDecay)];
  for (let i = 0; i < theta.length; i++) {
    const t = theta[i];
    const d = weightDecay > 0 ? f(g[i] + f(t * wd)) : g[i];
    let u = d;
    let b = 0;
    if (momentum !== 0) {
      b = prev ? f(f(prev[i] * mu) + d) : d;
      u = nesterov ? f(d + f(b * mu)) : b;
    }
    const s = f(t - f(u * lr32));
    outTheta[i] = mask ? s * mask[i] : s;
    if (outB) outB[i] = mask ? b * mask[i] : b;
  }
}
