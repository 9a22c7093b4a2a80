import * as tf from '@tensorflow/tfjs';
import { KernelComposer } from '../compose.ts';
import { BATCH_NORM, BATCH_NORM_EVAL, BATCH_NORM_EVAL_GRAD, BATCH_NORM_GRAD, type BatchNormAttrs } from '../batch-norm.ts';

/**
 * The four batch-norm kernels of kernels/batch-norm.ts (same inputs, outputs and formulas, so the
 * same registered gradients apply) composed from the backend's own reductions and elementwise
 * kernels, all on the device: nothing is read back to the host. Channels are the last axis; x is
 * viewed as [M, C].
 *
 * Moments are taken about the first row (d = x − x₀), then centred once more: a constant channel
 * (one value per channel, a conv filter pruned to zero) gets x − μ ≡ 0 and v = 0 exactly, which the
 * host kernels guarantee by a special case, and float32 loses nothing to a large mean.
 */

type Info = tf.TensorInfo;
type Args = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap };

class BnComposer extends KernelComposer {
  readonly c: number;
  readonly m: number;
  constructor(backend: tf.KernelBackend, backendName: string, readonly x: Info) {
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
  scale(a: Info, s: number): Info {
    return this.bin('Multiply', a, this.scalar(s));
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
  /** x − μ about the exact-for-constants shifted mean; returns [xc, μ, v] with xc as [M, C]. */
  moments(): [Info, Info, Info] {
    const x2 = this.rows(this.x);
    const first = this.slice(x2, [0, 0], [1, this.c]);
    const d = this.bin('Sub', x2, first);
    const meanD = this.scale(this.colSum(d), 1 / this.m);
    const xc = this.bin('Sub', d, meanD);
    const variance = this.scale(this.colSum(this.run('Square', { x: xc })), 1 / this.m);
    const mean = this.bin('Add', this.reshape(first, [this.c]), meanD);
    return [xc, mean, variance];
  }
  /** 1 where v > 0, else 0 ([C]): zero-variance channels keep y = β and dx free of 1/√ε blow-ups. */
  nonConstant(variance: Info): Info {
    const pos = this.run('Greater', { a: variance, b: this.scalar(0) });
    return this.run('Cast', { x: pos }, { dtype: 'float32' });
  }
  shaped(t: Info): Info {
    return this.reshape(t, this.x.shape);
  }
}

const epsOf = (attrs?: tf.NamedAttrMap) => (attrs as unknown as BatchNormAttrs).epsilon;

function train(backendName: string, { inputs, backend, attrs }: Args): Info[] {
  const { x, gamma, beta } = inputs as Record<string, Info>;
  const k = new BnComposer(backend, backendName, x);
  const [xc, mean, variance] = k.moments();
  const a = k.bin('Multiply', k.bin('Multiply', gamma, k.rstd(variance, epsOf(attrs))), k.nonConstant(variance));
  const y = k.shaped(k.bin('Add', k.bin('Multiply', xc, a), beta));
  return k.finishAll([y, mean, variance]);
}

function trainGrad(backendName: string, { inputs, backend, attrs }: Args): Info[] {
  const { dy, x, gamma, variance, dmean, dvariance } = inputs as Record<string, Info>;
  const k = new BnComposer(backend, backendName, x);
  // μ is recomputed rather than taken from the input: it must be x's own, and this one is exact.
  const [xc] = k.moments();
  const dy2 = k.rows(dy);
  const r = k.rstd(variance, epsOf(attrs));
  const live = k.nonConstant(variance);
  const sdy = k.colSum(dy2);
  const sdxc = k.colSum(k.bin('Multiply', dy2, xc));
  const dgamma = k.bin('Multiply', k.bin('Multiply', sdxc, r), live);
  // dx = A·dy + B·xc + D with A = γr, B = (2·dvar − γr³·Σ(dy·xc))/M (0 on constant channels),
  // D = (dmean − γr·Σdy)/M. With one row per channel (M = 1) dy − Σdy/M ≡ 0: A = 0, D = dmean.
  const unit = k.m === 1 ? 0 : 1;
  const gr = k.bin('Multiply', gamma, r);
  const a = k.scale(gr, unit);
  const b = k.bin('Multiply', k.scale(k.bin('Sub', k.scale(dvariance, 2), k.bin('Multiply', k.bin('Multiply', gr, k.bin('Multiply', r, r)), sdxc)), 1 / k.m), live);
  const d = k.scale(k.bin('Sub', dmean, k.scale(k.bin('Multiply', gr, sdy), unit)), 1 / k.m);
  const dx = k.shaped(k.bin('Add', k.bin('Add', k.bin('Multiply', dy2, a), k.bin('Multiply', xc, b)), d));
  return k.finishAll([dx, dgamma, sdy]);
}

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

/** Registers the composed batch-norm kernels for `backendName` (any backend with the standard kernels). */
export function registerComposedBatchNorm(backendName: string): void {
  const kernels: Array<[string, (name: string, args: Args) => Info | Info[]]> = [
    [BATCH_NORM, train],
    [BATCH_NORM_GRAD, trainGrad],
    [BATCH_NORM_EVAL, evalForward],
    [BATCH_NORM_EVAL_GRAD, evalGrad],
  ];
  for (const [kernelName, fn] of kernels) {
    if (tf.getKernel(kernelName, backendName) !== undefined) tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel({ kernelName, backendName, kernelFunc: ((args: Args) => fn(backendName, args)) as unknown as tf.KernelFunc });
  }
}
