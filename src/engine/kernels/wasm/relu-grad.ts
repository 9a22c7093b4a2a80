import * as tf from '@tensorflow/tfjs';
import { RELU_GRAD } from '../../relu-grad.ts';
import { KernelComposer } from '../compose.ts';
import { MIN_ELEMENTS_PER_BLOCK, simdKernels } from './simd-kernels.ts';

/**
 * The fused ReLU gradient dy · step(x) (relu-grad.wat) on all threads: one pass instead of tfjs's
 * Step (a serial loop), Cast and Multiply, with the same bits. Without the SIMD kernels, tfjs's
 * composition of the same kernels.
 */
export function registerSimdReluGrad(backendName: string): void {
  if (tf.getKernel(RELU_GRAD, backendName) !== undefined) tf.unregisterKernel(RELU_GRAD, backendName);
  tf.registerKernel({
    kernelName: RELU_GRAD,
    backendName,
    kernelFunc: (args) => {
      const { dy, x } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
      const k = new KernelComposer(args.backend as tf.KernelBackend, backendName);
      const pool = simdKernels();
      if (pool === undefined) return k.finish(k.run('Multiply', { a: dy, b: k.run('Step', { x }, { alpha: 0 }) })); // Cast float32 → float32 changes nothing
      const out = k.alloc(dy.shape);
      const at = (t: tf.TensorInfo) => k.view(t).byteOffset;
      const n = tf.util.sizeFromShape(dy.shape);
      pool.run('reluGrad', [at(dy), at(x), at(out), n], Math.ceil(n / 4), MIN_ELEMENTS_PER_BLOCK / 4);
      return k.finish(out);
    },
  });
}
