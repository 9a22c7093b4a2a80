import * as tf from '@tensorflow/tfjs';
import { KernelComposer } from '../compose.ts';
import { BATCH_NORM_EVAL, BATCH_NORM_EVAL_GRAD, type BatchNormAttrs } from '../batch-norm.ts';

/**
 * The eval-mode batch-norm kernels of kernels/batch-norm.ts (same inputs, outputs and formulas, so the
 * same registered gradients apply) composed from the backend's own elementwise kernels and
 * reductions, all on the device: nothing is read back to the host. Channels are the last axis; x is
 * viewed as [M, C]. Training mode is WGSL (batch-norm-wgsl.ts).
 */

type Info = tf.TensorInfo;
type Args = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap };

class BnComposer extends KernelComposer {
  readonly c: number;
  readonly m: number;
  constructor(
    backend: tf.KernelBackend,
    backendName: string,
    readonly x: Info,
  ) {
    super(backend, backendName);
    this.c = x.shape[x.shape.length - 1];
    this.m = x.shape.reduce((a, b) => a * b, 1) / Math.max(1, this.c);
  }
  rows(t: Info): Info {
    return this.reshape(t, [this.m, this.c]);
  }
  bin(kernel: 'Add' | 'Sub' | 'Multiply' | 'RealDiv', a: Info, b: Info): Info {
    return this.run(kernel, { a, b });
  }
  scalar(s: number): Info {
    return this.adopt({ shape: [], values: Float32Array.of(s) });
  }
  /** Σ over the rows, [C]. */
  colSum(t: Info): Info {
    return this.run('Sum', { x: t }, { axis: [0], keepDims: false });
  }
  /** 1/√(v + ε), [C]. */
  rstd(variance: Info, eps: number): Info {
    return this.run('Rsqrt', { x: this.bin('Add', variance, this.scalar(eps)) });
  }
  shaped(t: Info): Info {
    return this.reshape(t, this.x.shape);
  }
}

const epsOf = (attrs?: tf.NamedAttrMap) => (attrs as unknown as BatchNormAttrs).epsilon;

function evalForward(backendName: string, { inputs, backend, attrs }: Args): Info {
  const { x, gamma, beta, mean, variance } = inputs as Record<string, Info>;
  const k = new BnComposer(backend, backendName, x);
  const a = k.bin('Multiply', gamma, k.rstd(variance, epsOf(attrs)));
  const y = k.bin('Add', k.bin('Multiply', k.bin('Sub', k.rows(x), mean), a), beta);
  return k.finish(k.shaped(y));
}

function evalGrad(backendName: string, { inputs, backend, attrs }: Args): Info[] {
  const { dy, x, gamma, mean, variance } = inputs as Record<string, Info>;
  const k = new BnComposer(backend, backendName, x);
  const r = k.rstd(variance, epsOf(attrs));
  const dy2 = k.rows(dy);
  const dx = k.shaped(k.bin('Multiply', dy2, k.bin('Multiply', gamma, r)));
  const dgamma = k.bin('Multiply', k.colSum(k.bin('Multiply', dy2, k.bin('Sub', k.rows(x), mean))), r);
  return k.finishAll([dx, dgamma, k.colSum(dy2)]);
}

/** Registers the composed eval-mode batch-norm kernels for `backendName` (any backend with the standard kernels). */
export function registerComposedBatchNorm(backendName: string): void {
  const kernels: Array<[string, (name: string, args: Args) => Info | Info[]]> = [
    [BATCH_NORM_EVAL, evalForward],
    [BATCH_NORM_EVAL_GRAD, evalGrad],
  ];
  for (const [kernelName, fn] of kernels) {
    if (tf.getKernel(kernelName, backendName) !== undefined) tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel({ kernelName, backendName, kernelFunc: ((args: Args) => fn(backendName, args)) as unknown as tf.KernelFunc });
  }
}
