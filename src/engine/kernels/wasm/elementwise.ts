import * as tf from '@tensorflow/tfjs';
import { RELU_GRAD } from '../../relu-grad.ts';
import { KernelComposer } from '../compose.ts';
import { simdKernels } from './simd-kernels.ts';

/** Below this many elements a block is not worth handing to another thread (one pass over memory). */
const MIN_ELEMENTS_PER_BLOCK = 1 << 16;

/** elementwise.wat's operation codes. */
const OP = { add: 0, mul: 1, relu: 2, reluGrad: 3 } as const;

const MARK = Symbol('pipeline elementwise');
const replaced = new Map<string, tf.KernelConfig>();

/** The kernel (`Add`, `Multiply`, `Relu`) this file replaced on `backendName` (XNNPACK's on wasm; for comparisons). */
export function replacedElementwise(kernelName: string, backendName: string): tf.KernelConfig | undefined {
  return replaced.get(`${kernelName}/${backendName}`);
}

function replace(kernelName: string, backendName: string, wrap: (previous: tf.KernelConfig) => tf.KernelFunc): void {
  const previous = tf.getKernel(kernelName, backendName);
  if (previous === undefined || MARK in previous.kernelFunc) return;
  replaced.set(`${kernelName}/${backendName}`, previous);
  const kernelFunc = wrap(previous);
  Object.defineProperty(kernelFunc, MARK, { value: true });
  tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({ ...previous, kernelFunc });
}

function runElementwise(backend: tf.KernelBackend, backendName: string, op: number, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
  const k = new KernelComposer(backend, backendName);
  const out = k.alloc(a.shape);
  const at = (t: tf.TensorInfo) => k.view(t).byteOffset;
  const n = tf.util.sizeFromShape(a.shape);
  simdKernels()!.run('elementwise', [op, at(a), at(b), at(out), n], Math.ceil(n / 4), MIN_ELEMENTS_PER_BLOCK / 4);
  return k.finish(out);
}

/** Two float32 inputs of one shape (or one input) on a started pool: ours; anything else: `previous`. */
function ours(...inputs: tf.TensorInfo[]): boolean {
  return simdKernels() !== undefined && inputs.every((t) => t.dtype === 'float32' && tf.util.arraysEqual(t.shape, inputs[0].shape));
}

function replaceBinary(kernelName: string, op: number, backendName: string): void {
  replace(kernelName, backendName, (previous) => (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    return ours(a, b) ? runElementwise(args.backend as tf.KernelBackend, backendName, op, a, b) : previous.kernelFunc(args);
  });
}

/**
 * Add and Multiply of equal shapes, Relu and the fused ReLU gradient on the project's SIMD kernels
 * (elementwise.wat), on all threads; the same bits as XNNPACK's (one float32 operation per element;
 * its ReLU is an integer maximum). Why: XNNPACK runs these on its own pool, whose worker keeps
 * spinning for 1–2 ms after each op, taking the second core from the kernels that follow; tfjs's
 * ReLU gradient is three serial ops.
 */
export function registerSimdElementwise(backendName: string): void {
  replaceBinary('Add', OP.add, backendName);
  replaceBinary('Multiply', OP.mul, backendName);
  replace('Relu', backendName, (previous) => (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    return ours(x) ? runElementwise(args.backend as tf.KernelBackend, backendName, OP.relu, x, x) : previous.kernelFunc(args);
  });
  if (tf.getKernel(RELU_GRAD, backendName) !== undefined) tf.unregisterKernel(RELU_GRAD, backendName);
  tf.registerKernel({
    kernelName: RELU_GRAD,
    backendName,
    kernelFunc: (args) => {
      const { dy, x } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
      if (ours(dy, x)) return runElementwise(args.backend as tf.KernelBackend, backendName, OP.reluGrad, dy, x);
      // Without the SIMD kernels: tfjs's composition (Cast float32 → float32 changes nothing).
      const k = new KernelComposer(args.backend as tf.KernelBackend, backendName);
      return k.finish(k.run('Multiply', { a: dy, b: k.run('Step', { x }, { alpha: 0 }) }));
    },
  });
}
