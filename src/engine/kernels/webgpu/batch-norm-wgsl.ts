import * as tf from '@tensorflow/tfjs';
import { KernelComposer } from '../compose.ts';
import { BATCH_NORM, BATCH_NORM_GRAD, type BatchNormAttrs } from '../batch-norm.ts';
import type { ProgramUniform, WebGpuBackend } from './program.ts';

/**
 * Batch norm in training mode as WGSL programs, with the inputs, outputs and formulas of
 * kernels/batch-norm.ts (so its registered gradients apply unchanged): forward in 4 dispatches
 * (per-channel moments, y, and μ and v sliced out of the moments) and its gradient in 4 (per-channel
 * sums, dx, dγ, Σdy sliced out), where the composed kernels (webgpu/batch-norm.ts) launch ~15 and ~25.
 * x is viewed as [M, C], channels last. As there, moments are taken about each channel's first row
 * and centred once more, so a constant channel gets x − μ ≡ 0 and v = 0 exactly; v = 0 channels have
 * y = β and no 1/√ε in their gradients.
 */

type Info = tf.TensorInfo;
type Args = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap };

/** Threads per channel in the reductions (a power of two). */
const REDUCE = 64;
const ELEMENTWISE = 64;

const UNIFORMS = 'rows : i32, channels : i32, invM : f32, eps : f32, unit : f32,';

/** Sum of `v` over the workgroup; call from uniform control flow. */
const WORKGROUP_SUM = `
  var<workgroup> partial : array<f32, ${REDUCE}>;
  fn workgroupSum(v : f32) -> f32 {
    partial[localIndex] = v;
    workgroupBarrier();
    for (var s = ${REDUCE / 2}u; s > 0u; s = s >> 1u) {
      if (localIndex < s) {
        partial[localIndex] = partial[localIndex] + partial[localIndex + s];
      }
      workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
  }`;

/** Σ (x − x₀) / M of channel c (x₀: its first row), summed by this workgroup. */
const SHIFTED_MEAN = `
    let c = i32(workgroupId.x);
    let first = x[c];
    var s = 0.0;
    for (var r = i32(localIndex); r < uniforms.rows; r = r + ${REDUCE}) {
      s = s + (x[r * uniforms.channels + c] - first);
    }
    let meanD = workgroupSum(s) * uniforms.invM;`;

abstract class Program {
  abstract variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms = UNIFORMS;
  size = false;
  constructor(key: string, outputShape: number[], groups: number, threads: number) {
    this.shaderKey = `pipelineBn_${key}`;
    this.outputShape = outputShape;
    this.dispatch = [groups, 1, 1];
    this.workgroupSize = [threads, 1, 1];
  }
  abstract getUserCode(): string;
}

/** One workgroup per channel → [3, C]: μ, v, and the shifted mean Σ(x − x₀)/M. */
class MomentsProgram extends Program {
  variableNames = ['x'];
  constructor(c: number) {
    super('moments', [3, c], c, REDUCE);
  }
  getUserCode(): string {
    return `${WORKGROUP_SUM}
  fn main(index : i32) {
    ${SHIFTED_MEAN}
    var q = 0.0;
    for (var r = i32(localIndex); r < uniforms.rows; r = r + ${REDUCE}) {
      let xc = (x[r * uniforms.channels + c] - first) - meanD;
      q = q + xc * xc;
    }
    let variance = workgroupSum(q) * uniforms.invM;
    if (localIndex == 0u) {
      setOutputAtIndex(c, first + meanD);
      setOutputAtIndex(uniforms.channels + c, variance);
      setOutputAtIndex(2 * uniforms.channels + c, meanD);
    }
  }`;
  }
}

/** Shared by the elementwise programs: the channel's scale γ/√(v + ε), 0 where v = 0. */
const SCALE = `
  fn scale(gammaC : f32, v : f32) -> f32 {
    if (v > 0.0) { return gammaC * inverseSqrt(v + uniforms.eps); }
    return 0.0;
  }`;

/** y = ((x − x₀) − Σ(x − x₀)/M)·a + β, elementwise. */
class NormalizeProgram extends Program {
  variableNames = ['x', 'moments', 'gamma', 'beta'];
  constructor(m: number, c: number) {
    super('normalize', [m, c], Math.ceil((m * c) / ELEMENTWISE), ELEMENTWISE);
  }
  getUserCode(): string {
    return `${SCALE}
  fn main(index : i32) {
    if (index >= uniforms.rows * uniforms.channels) { return; }
    let c = index % uniforms.channels;
    let xc = (x[index] - x[c]) - moments[2 * uniforms.channels + c];
    setOutputAtIndex(index, xc * scale(gamma[c], moments[uniforms.channels + c]) + beta[c]);
  }`;
  }
}

/** One workgroup per channel → [3, C]: shifted mean, Σdy, Σ dy·(x − μ). */
class GradSumsProgram extends Program {
  variableNames = ['dy', 'x'];
  constructor(c: number) {
    super('gradSums', [3, c], c, REDUCE);
  }
  getUserCode(): string {
    return `${WORKGROUP_SUM}
  fn main(index : i32) {
    ${SHIFTED_MEAN}
    var sdy = 0.0;
    var sdxc = 0.0;
    for (var r = i32(localIndex); r < uniforms.rows; r = r + ${REDUCE}) {
      let i = r * uniforms.channels + c;
      let xc = (x[i] - first) - meanD;
      sdy = sdy + dy[i];
      sdxc = sdxc + dy[i] * xc;
    }
    let totalDy = workgroupSum(sdy);
    let totalDyXc = workgroupSum(sdxc);
    if (localIndex == 0u) {
      setOutputAtIndex(c, meanD);
      setOutputAtIndex(uniforms.channels + c, totalDy);
      setOutputAtIndex(2 * uniforms.channels + c, totalDyXc);
    }
  }`;
  }
}

/**
 * dx = A·dy + B·(x − μ) + D, A = γr·unit, B = (2·dvar − γr³·Σdy·xc)/M (0 where v = 0),
 * D = (dmean − γr·Σdy·unit)/M, r = 1/√(v + ε); unit = 0 when M = 1 (dy − Σdy/M ≡ 0 there).
 */
class InputGradProgram extends Program {
  variableNames = ['dy', 'x', 'sums', 'gamma', 'variance', 'dmean', 'dvariance'];
  constructor(m: number, c: number) {
    super('inputGrad', [m, c], Math.ceil((m * c) / ELEMENTWISE), ELEMENTWISE);
  }
  getUserCode(): string {
    return `
  fn main(index : i32) {
    if (index >= uniforms.rows * uniforms.channels) { return; }
    let c = index % uniforms.channels;
    let C = uniforms.channels;
    let r = inverseSqrt(variance[c] + uniforms.eps);
    let gr = gamma[c] * r;
    var live = 0.0;
    if (variance[c] > 0.0) { live = 1.0; }
    let a = gr * uniforms.unit;
    let b = ((2.0 * dvariance[c] - gr * (r * r) * sums[2 * C + c]) * uniforms.invM) * live;
    let d = (dmean[c] - gr * sums[C + c] * uniforms.unit) * uniforms.invM;
    let xc = (x[index] - x[c]) - sums[c];
    setOutputAtIndex(index, dy[index] * a + xc * b + d);
  }`;
  }
}

/** dγ = Σ dy·(x − μ) · r, 0 where v = 0. */
class GammaGradProgram extends Program {
  variableNames = ['sums', 'variance'];
  constructor(c: number) {
    super('gammaGrad', [c], Math.ceil(c / ELEMENTWISE), ELEMENTWISE);
  }
  getUserCode(): string {
    return `
  fn main(index : i32) {
    if (index >= uniforms.channels) { return; }
    var g = 0.0;
    if (variance[index] > 0.0) { g = sums[2 * uniforms.channels + index] * inverseSqrt(variance[index] + uniforms.eps); }
    setOutputAtIndex(index, g);
  }`;
  }
}

function setup(backendName: string, backend: tf.KernelBackend, x: Info, attrs?: tf.NamedAttrMap) {
  const k = new KernelComposer(backend, backendName);
  const c = x.shape[x.shape.length - 1];
  const m = tf.util.sizeFromShape(x.shape) / Math.max(1, c);
  const uniforms: ProgramUniform[] = [
    { type: 'int32', data: [m] },
    { type: 'int32', data: [c] },
    { type: 'float32', data: [1 / m] },
    { type: 'float32', data: [(attrs as unknown as BatchNormAttrs).epsilon] },
    { type: 'float32', data: [m === 1 ? 0 : 1] },
  ];
  const be = backend as WebGpuBackend;
  const run = (program: Program, inputs: Info[]) => k.track(be.runWebGPUProgram(program, inputs, 'float32', uniforms));
  const rows = (t: Info) => ({ ...t, shape: [m, c] });
  const row = (t: Info, i: number) => k.reshape(k.slice(t, [i, 0], [1, c]), [c]);
  return { k, c, m, run, rows, row };
}

function train(backendName: string, { inputs, backend, attrs }: Args): Info[] {
  const { x, gamma, beta } = inputs as Record<string, Info>;
  const { k, c, m, run, rows, row } = setup(backendName, backend, x, attrs);
  const moments = run(new MomentsProgram(c), [rows(x)]);
  const y = k.reshape(run(new NormalizeProgram(m, c), [rows(x), moments, gamma, beta]), x.shape);
  return k.finishAll([y, row(moments, 0), row(moments, 1)]);
}

function trainGrad(backendName: string, { inputs, backend, attrs }: Args): Info[] {
  const { dy, x, gamma, variance, dmean, dvariance } = inputs as Record<string, Info>;
  const { k, c, m, run, rows, row } = setup(backendName, backend, x, attrs);
  const sums = run(new GradSumsProgram(c), [rows(dy), rows(x)]);
  const dx = k.reshape(run(new InputGradProgram(m, c), [rows(dy), rows(x), sums, gamma, variance, dmean, dvariance]), x.shape);
  const dgamma = run(new GammaGradProgram(c), [sums, variance]);
  return k.finishAll([dx, dgamma, row(sums, 1)]);
}

/** Registers the WGSL training-mode batch norm and its gradient (eval mode stays composed). */
export function registerWgslBatchNorm(backendName: string): void {
  const kernels: Array<[string, (name: string, args: Args) => Info[]]> = [
    [BATCH_NORM, train],
    [BATCH_NORM_GRAD, trainGrad],
  ];
  for (const [kernelName, fn] of kernels) {
    if (tf.getKernel(kernelName, backendName) !== undefined) tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel({ kernelName, backendName, kernelFunc: ((args: Args) => fn(backendName, args)) as unknown as tf.KernelFunc });
  }
}
