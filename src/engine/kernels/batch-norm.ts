import * as tf from '@tensorflow/tfjs';
import type { WasmKernelPool } from '../backends/wasm-pool.ts';
import { simdKernels } from './wasm/simd-kernels.ts';

/**
 * Batch norm over all axes but the last (NHWC: per channel over N·H·W) as four kernels for the wasm
 * and cpu backends. Reductions accumulate in float64: on wasm with channels in 4s, the project's
 * SIMD kernels (wasm/batch-norm.wat) on all threads, which also do the full-size affine passes;
 * otherwise host loops over the backend's memory (wasm: views of the heap; cpu: the backing arrays),
 * with full-size writes as, on wasm, XNNPACK 1×1 depthwise convolutions with bias
 * (y = x·a[c] + b[c]) and, on cpu, host loops. Per tensor: forward
 * one read + one write, backward one read of (dy, x) + three XNNPACK passes, against about ten passes
 * and as many full-size temporaries each way for the primitive composition (mean, sub, square, mean,
 * add, sqrt, div, mul, add and their autodiff gradients, whose wasm Sum transposes its input).
 *
 * Kernels (M = elements per channel, r = 1/√(v + ε), x̂ = (x − μ)·r):
 *  - PipelineBatchNorm (train)   x, gamma, beta → y = γ·x̂ + β, μ, v (the batch's biased variance)
 *  - PipelineBatchNormGrad       dy, x, gamma, mean, variance, dmean, dvariance →
 *        dx = γ·r·(dy − Σdy/M − x̂·Σ(dy·x̂)/M) + dmean/M + 2·dvariance·(x − μ)/M,
 *        dgamma = Σ dy·x̂, dbeta = Σ dy
 *    (mean and variance must be x's own batch statistics; dmean/dvariance are the gradients reaching
 *    the forward kernel's μ and v outputs, zeros when only y is used)
 *  - PipelineBatchNormEval       x, gamma, beta, mean, variance (running) → y = γ·r·(x − μ) + β
 *  - PipelineBatchNormEvalGrad   dy, x, gamma, mean, variance → dx = γ·r·dy, dgamma = r·Σ dy·(x − μ), dbeta = Σ dy
 *
 * Their gradients (gradients/batch-norm.ts) keep derivatives of every order exact.
 */

export const BATCH_NORM = 'PipelineBatchNorm';
export const BATCH_NORM_GRAD = 'PipelineBatchNormGrad';
export const BATCH_NORM_EVAL = 'PipelineBatchNormEval';
export const BATCH_NORM_EVAL_GRAD = 'PipelineBatchNormEvalGrad';

/**
 * Two per-channel kernels for the batch-norm kernels' own gradients (gradients/batch-norm.ts), on the
 * same passes: PipelineChannelDot a, b → Σ a·b over every axis but the last ([C], a float64 sum),
 * PipelineChannelAffine2 a, alpha, b, beta → a·α[c] + b·β[c]. Ops with composed fallbacks: channel-ops.ts.
 */
export const CHANNEL_DOT = 'PipelineChannelDot';
export const CHANNEL_AFFINE2 = 'PipelineChannelAffine2';

export interface BatchNormAttrs {
  epsilon: number;
}

type Info = tf.TensorInfo;

/** wasm: outputs via makeOutput (heap), views via typedArrayFromHeap. */
type WasmBackend = tf.KernelBackend & {
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: Float32Array): Info;
  typedArrayFromHeap(info: Info): Float32Array;
};

const DEPTHWISE_ATTRS = {
  strides: [1, 1],
  pad: 'valid',
  dataFormat: 'NHWC',
  dilations: [1, 1],
  dimRoundingMode: undefined,
  activation: 'linear',
  leakyreluAlpha: 0,
} as unknown as tf.NamedAttrMap;

/**
 * Output allocation, host views and the per-channel affine passes, for both backends. On wasm the
 * reductions run as host loops over heap views while every full-size write is an XNNPACK kernel (a
 * 1×1 depthwise convolution with bias is y = x·a[c] + b[c] at ~0.3 ns per element, against ~1.5 ns
 * for the same loop in JS). On cpu everything is a host loop. (cpu's makeOutput has another
 * signature and returns a Tensor, so the cpu path writes its own arrays.) Views of the wasm heap are
 * invalidated when the heap grows: allocate, then take views, then run kernels, and take no view
 * after a kernel ran.
 */
class HostIO {
  private readonly wasm: WasmBackend | undefined;
  private readonly temps: Info[] = [];
  /** The project's SIMD kernels (wasm, channels in 4s): reductions and affine passes on all threads. */
  private readonly simd: WasmKernelPool | undefined;

  /** `c`: the channels of the tensors this batch norm call works on. */
  constructor(
    readonly backend: tf.KernelBackend,
    private readonly c: number,
  ) {
    const be = backend as WasmBackend;
    this.wasm = typeof be.typedArrayFromHeap === 'function' && typeof be.makeOutput === 'function' ? be : undefined;
    this.simd = this.wasm && c % 4 === 0 && c > 0 ? simdKernels() : undefined;
  }

  private at(info: Info): number {
    return this.view(info).byteOffset;
  }

  /**
   * s1, s2 of shiftedMoments over x's rows of c channels. Allocates on the heap: call before taking
   * views. The results are host arrays.
   */
  moments(x: Info): { s1: Float64Array; s2: Float64Array } {
    const c = this.c;
    const rows = sizeOf(x.shape) / c;
    if (rows === 0) return { s1: new Float64Array(c), s2: new Float64Array(c) };
    if (!this.simd) {
      const s1 = new Float64Array(c);
      const s2 = new Float64Array(c);
      shiftedMoments(this.view(x), c, s1, s2);
      return { s1, s2 };
    }
    const sums = this.temp([4 * c]); // two float64 arrays
    const base = this.at(sums);
    this.simd.run('bnMoments', [this.at(x), rows, c, base, base + 8 * c], c / 4, minChannelBlocks(rows));
    const out = this.float64(sums, 2 * c);
    return { s1: out.slice(0, c), s2: out.slice(c) };
  }

  /**
   * gradSums about the centres m (host float64), as host arrays. Allocates on the heap: call before
   * taking views.
   */
  gradSums(dy: Info, x: Info, m: Float64Array): { sdy: Float64Array; sdx: Float64Array; sx: Float64Array } {
    const c = this.c;
    const rows = sizeOf(x.shape) / c;
    if (rows === 0) return { sdy: new Float64Array(c), sdx: new Float64Array(c), sx: new Float64Array(c) };
    if (!this.simd) {
      const out = { sdy: new Float64Array(c), sdx: new Float64Array(c), sx: new Float64Array(c) };
      gradSums(this.view(dy), this.view(x), c, m, out.sdy, out.sdx, out.sx);
      return out;
    }
    const scratch = this.temp([8 * c]); // m, then the three sums, as float64
    const base = this.at(scratch);
    new Float64Array(this.view(scratch).buffer, base, c).set(m);
    this.simd.run('bnGradSums', [this.at(dy), this.at(x), rows, c, base, base + 8 * c, base + 16 * c, base + 24 * c], c / 4, minChannelBlocks(rows));
    const out = this.float64(scratch, 4 * c);
    return { sdy: out.slice(c, 2 * c), sdx: out.slice(2 * c, 3 * c), sx: out.slice(3 * c) };
  }

  private float64(info: Info, n: number): Float64Array {
    const v = this.view(info);
    return new Float64Array(v.buffer, v.byteOffset, n).slice();
  }

  alloc(shape: number[]): Info {
    if (this.wasm) return this.wasm.makeOutput(shape, 'float32');
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    return { dataId: this.backend.write(values, shape, 'float32'), shape, dtype: 'float32' };
  }

  /** A scratch tensor freed by finish(). */
  temp(shape: number[]): Info {
    const t = this.alloc(shape);
    this.temps.push(t);
    return t;
  }

  view(info: Info): Float32Array {
    if (info.dtype !== 'float32') throw new Error(`batch norm kernels take float32 tensors, got ${info.dtype}`);
    if (this.wasm) return this.wasm.typedArrayFromHeap(info);
    const v = this.backend.readSync(info.dataId);
    return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
  }

  /** Per-channel coefficients for affine()/affine2(): on wasm, [1,1,C,1] filters and [C] biases on the heap. */
  coefficients(c: number, count: number): Coefficients[] {
    const out: Coefficients[] = [];
    if (!this.wasm) {
      for (let i = 0; i < count; i++) out.push({ values: new Float64Array(c) });
      return out;
    }
    const infos = Array.from({ length: count }, () => this.temp([c]));
    for (const info of infos) out.push({ info, values: new Float64Array(c) });
    return out;
  }

  /** y = x·a[c] + b[c] (b omitted: 0), shaped like x. */
  affine(x: Info, xv: Float32Array | undefined, a: Coefficients, b: Coefficients | undefined): Info {
    const c = x.shape[x.shape.length - 1];
    if (!this.wasm) {
      const y = this.alloc(x.shape);
      affineLoop(xv ?? this.view(x), c, a.values, b?.values, this.view(y));
      return y;
    }
    if (sizeOf(x.shape) === 0) return this.alloc(x.shape);
    if (this.simd) {
      const y = this.alloc(x.shape);
      const bias = b ?? this.zeros(c);
      const rows = sizeOf(x.shape) / c;
      this.simd.run('bnAffine', [this.at(x), c, this.at(a.info!), this.at(bias.info!), this.at(y)], rows, minRows(c));
      return y;
    }
    const out = this.depthwise(x, a, b);
    return { dataId: out.dataId, shape: x.shape, dtype: 'float32' };
  }

  private zeros(c: number): Coefficients {
    const [z] = this.coefficients(c, 1);
    this.upload(z);
    return z;
  }

  /** out = dy·a[c] + x·b[c] + d[c], shaped like x. */
  affine2(dy: Info, x: Info, a: Coefficients, b: Coefficients, d: Coefficients): Info {
    const c = x.shape[x.shape.length - 1];
    if (!this.wasm) {
      const out = this.alloc(x.shape);
      affine2Loop(this.view(dy), this.view(x), c, a.values, b.values, d.values, this.view(out));
      return out;
    }
    if (sizeOf(x.shape) === 0) return this.alloc(x.shape);
    if (this.simd) {
      const out = this.alloc(x.shape);
      const rows = sizeOf(x.shape) / c;
      this.simd.run('bnAffine2', [this.at(dy), this.at(x), c, this.at(a.info!), this.at(b.info!), this.at(d.info!), this.at(out)], rows, minRows(c));
      return out;
    }
    const t1 = this.depthwise(dy, a, d);
    const t2 = this.depthwise(x, b, undefined);
    this.temps.push(t1, t2);
    const add = tf.getKernel('Add', 'wasm')!;
    const sum = add.kernelFunc({ inputs: { a: t1, b: t2 }, backend: this.backend, attrs: {} }) as Info;
    return { dataId: sum.dataId, shape: x.shape, dtype: 'float32' };
  }

  /** Copies the float64 coefficients into their heap tensors (wasm; call before any kernel runs). */
  upload(...cs: Coefficients[]): void {
    for (const co of cs) if (co.info) this.view(co.info).set(co.values);
  }

  private depthwise(x: Info, a: Coefficients, b: Coefficients | undefined): Info {
    const c = x.shape[x.shape.length - 1];
    const x4 = x.shape.length === 4 ? x : { dataId: x.dataId, shape: [1, sizeOf(x.shape) / c, 1, c], dtype: x.dtype };
    const filter = { dataId: a.info!.dataId, shape: [1, 1, c, 1], dtype: 'float32' as const };
    const kernel = tf.getKernel('FusedDepthwiseConv2D', 'wasm')!;
    const inputs: Record<string, Info> = { x: x4, filter };
    if (b) inputs.bias = b.info!;
    return kernel.kernelFunc({ inputs, backend: this.backend, attrs: DEPTHWISE_ATTRS }) as Info;
  }

  /** Frees the scratch tensors. */
  finish(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

/** Per-channel float64 values and, on wasm, the heap tensor they are uploaded to. */
interface Coefficients {
  values: Float64Array;
  info?: Info;
}

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Work below this many elements is not worth handing to another thread (these passes are bound by memory). */
const MIN_ELEMENTS_PER_BLOCK = 1 << 17;
const minChannelBlocks = (rows: number) => Math.ceil(MIN_ELEMENTS_PER_BLOCK / (4 * rows));
const minRows = (c: number) => Math.ceil(MIN_ELEMENTS_PER_BLOCK / c);

function channels(x: Info, others: Record<string, Info>): number {
  if (x.shape.length < 1) throw new Error('batch norm: input must have at least one axis (channels last)');
  const c = x.shape[x.shape.length - 1];
  for (const [name, t] of Object.entries(others)) {
    if (sizeOf(t.shape) !== c) throw new Error(`batch norm: ${name} has shape [${t.shape}], expected ${c} values (one per channel)`);
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// Host loops. Rows of C channels are processed in blocks of about BLOCK floats, channel by channel
// inside a block, so every per-channel accumulator lives in a register and the block stays in L1
// (measured 2–3× faster than row-major loops over Float64Array accumulators, and than plain
// channel-strided sweeps over tensors larger than the cache).

const BLOCK = 4096;
const blockRows = (c: number) => Math.max(4, Math.floor(BLOCK / c));

/** s1[c] = Σ (x − k[c]), s2[c] = Σ (x − k[c])² with the shift k[c] = x[0, c] (keeps the one-pass variance exact in float64). */
function shiftedMoments(x: Float32Array, c: number, s1: Float64Array, s2: Float64Array): void {
  s1.fill(0);
  s2.fill(0);
  const rows = x.length / c;
  const br = blockRows(c);
  for (let r0 = 0; r0 < rows; r0 += br) {
    const end = Math.min(rows, r0 + br) * c;
    for (let ch = 0; ch < c; ch++) {
      const k = x[ch];
      let a0 = 0;
      let a1 = 0;
      let b0 = 0;
      let b1 = 0;
      let p = r0 * c + ch;
      for (; p + c < end; p += 2 * c) {
        const d0 = x[p] - k;
        const d1 = x[p + c] - k;
        a0 += d0;
        b0 += d0 * d0;
        a1 += d1;
        b1 += d1 * d1;
      }
      for (; p < end; p += c) {
        const d = x[p] - k;
        a0 += d;
        b0 += d * d;
      }
      s1[ch] += a0 + a1;
      s2[ch] += b0 + b1;
    }
  }
}

/** out = x·a[c] + b[c] (b omitted: 0). */
function affineLoop(x: Float32Array, c: number, a: Float64Array, b: Float64Array | undefined, out: Float32Array): void {
  const rows = x.length / c;
  const br = blockRows(c);
  for (let r0 = 0; r0 < rows; r0 += br) {
    const end = Math.min(rows, r0 + br) * c;
    for (let ch = 0; ch < c; ch++) {
      const ac = a[ch];
      const bc = b ? b[ch] : 0;
      for (let p = r0 * c + ch; p < end; p += c) out[p] = x[p] * ac + bc;
    }
  }
}

/**
 * sdy[c] = Σ dy, sdx[c] = Σ dy·(x − m[c]), sx[c] = Σ (x − m[c]). With m the float32-rounded batch
 * mean, sx/M is that rounding (which matters when |μ| ≫ σ), so callers can re-centre exactly.
 */
function gradSums(dy: Float32Array, x: Float32Array, c: number, m: Float64Array, sdy: Float64Array, sdx: Float64Array, sx: Float64Array): void {
  sdy.fill(0);
  sdx.fill(0);
  sx.fill(0);
  const rows = x.length / c;
  const br = blockRows(c);
  for (let r0 = 0; r0 < rows; r0 += br) {
    const end = Math.min(rows, r0 + br) * c;
    for (let ch = 0; ch < c; ch++) {
      const mc = m[ch];
      let s = 0;
      let t = 0;
      let u = 0;
      for (let p = r0 * c + ch; p < end; p += c) {
        const g = dy[p];
        const d = x[p] - mc;
        s += g;
        t += g * d;
        u += d;
      }
      sdy[ch] += s;
      sdx[ch] += t;
      sx[ch] += u;
    }
  }
}

/** out = dy·a[c] + x·b[c] + d[c]. */
function affine2Loop(dy: Float32Array, x: Float32Array, c: number, a: Float64Array, b: Float64Array, d: Float64Array, out: Float32Array): void {
  const rows = x.length / c;
  const br = blockRows(c);
  for (let r0 = 0; r0 < rows; r0 += br) {
    const end = Math.min(rows, r0 + br) * c;
    for (let ch = 0; ch < c; ch++) {
      const ac = a[ch];
      const bc = b[ch];
      const dc = d[ch];
      for (let p = r0 * c + ch; p < end; p += c) out[p] = dy[p] * ac + x[p] * bc + dc;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Kernels

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

const epsilonOf = (attrs: tf.NamedAttrMap | undefined): number => {
  const eps = (attrs as unknown as BatchNormAttrs | undefined)?.epsilon;
  if (typeof eps !== 'number' || !(eps >= 0)) throw new Error('batch norm kernels need a non-negative epsilon attribute');
  return eps;
};

function batchNormTrain({ inputs, backend, attrs }: KernelArgs): Info[] {
  const { x, gamma, beta } = inputs as Record<string, Info>;
  const eps = epsilonOf(attrs);
  const c = channels(x, { gamma, beta });
  const io = new HostIO(backend as tf.KernelBackend, c);
  const meanOut = io.alloc([c]);
  const varOut = io.alloc([c]);
  const [a, b] = io.coefficients(c, 2);
  const { s1, s2 } = io.moments(x);
  const xv = io.view(x);
  const gv = io.view(gamma);
  const bv = io.view(beta);
  const mv = io.view(meanOut);
  const vv = io.view(varOut);
  const m = xv.length / c;
  for (let ch = 0; ch < c; ch++) {
    const d = s1[ch] / m;
    const mean = xv[ch] + d;
    const variance = Math.max(0, s2[ch] / m - d * d);
    const r = 1 / Math.sqrt(variance + eps);
    mv[ch] = mean;
    vv[ch] = variance;
    // A constant channel (one value per channel, or a conv filter pruned to zero) has x̂ ≡ 0: y = β exactly.
    a.values[ch] = variance === 0 ? 0 : gv[ch] * r;
    b.values[ch] = variance === 0 ? bv[ch] : bv[ch] - mean * a.values[ch];
  }
  io.upload(a, b);
  const y = io.affine(x, xv, a, b);
  io.finish();
  return [y, meanOut, varOut];
}

function batchNormTrainGrad({ inputs, backend, attrs }: KernelArgs): Info[] {
  const { dy, x, gamma, mean, variance, dmean, dvariance } = inputs as Record<string, Info>;
  const eps = epsilonOf(attrs);
  const c = channels(x, { gamma, mean, variance, dmean, dvariance });
  if (sizeOf(dy.shape) !== sizeOf(x.shape)) throw new Error('batch norm grad: dy and x differ in size');
  const io = new HostIO(backend as tf.KernelBackend, c);
  const dgamma = io.alloc([c]);
  const dbeta = io.alloc([c]);
  const [a, b, d] = io.coefficients(c, 3);
  const mu = Float64Array.from(io.view(mean));
  const { sdy, sdx, sx } = io.gradSums(dy, x, mu);
  const gv = io.view(gamma);
  const varv = io.view(variance);
  const dmv = io.view(dmean);
  const dvv = io.view(dvariance);
  const dgv = io.view(dgamma);
  const dbv = io.view(dbeta);
  const m = sizeOf(x.shape) / c;
  // dx = A·dy + B·x + D with x̂ = (x − μ)·r folded into per-channel coefficients.
  for (let ch = 0; ch < c; ch++) {
    // Undo the float32 rounding of the saved mean: Σ dy·(x − μ) about the exact mean.
    const shift = sx[ch] / m;
    mu[ch] += shift;
    sdx[ch] -= shift * sdy[ch];
    const r = 1 / Math.sqrt(varv[ch] + eps);
    const gr = gv[ch] * r;
    const dg = sdx[ch] * r; // Σ dy·x̂
    dgv[ch] = dg;
    dbv[ch] = sdy[ch];
    if (varv[ch] === 0) {
      // Constant channel: x − μ ≡ 0, so drop the B·x − B·μ pair (exact zero, not a float32 cancellation);
      // with one value per channel dy − Σdy/M ≡ 0 as well.
      a.values[ch] = m === 1 ? 0 : gr;
      b.values[ch] = 0;
      d.values[ch] = m === 1 ? dmv[ch] : (-gr * sdy[ch] + dmv[ch]) / m;
      continue;
    }
    a.values[ch] = gr;
    b.values[ch] = (-gr * r * dg + 2 * dvv[ch]) / m;
    d.values[ch] = (-gr * sdy[ch] + dmv[ch]) / m - b.values[ch] * mu[ch];
  }
  io.upload(a, b, d);
  const dx = io.affine2(dy, x, a, b, d);
  io.finish();
  return [dx, dgamma, dbeta];
}

function batchNormEval({ inputs, backend, attrs }: KernelArgs): Info {
  const { x, gamma, beta, mean, variance } = inputs as Record<string, Info>;
  const eps = epsilonOf(attrs);
  const c = channels(x, { gamma, beta, mean, variance });
  const io = new HostIO(backend as tf.KernelBackend, c);
  const [a, b] = io.coefficients(c, 2);
  const gv = io.view(gamma);
  const bv = io.view(beta);
  const muv = io.view(mean);
  const varv = io.view(variance);
  for (let ch = 0; ch < c; ch++) {
    a.values[ch] = gv[ch] / Math.sqrt(varv[ch] + eps);
    b.values[ch] = bv[ch] - muv[ch] * a.values[ch];
  }
  io.upload(a, b);
  const y = io.affine(x, undefined, a, b);
  io.finish();
  return y;
}

function batchNormEvalGrad({ inputs, backend, attrs }: KernelArgs): Info[] {
  const { dy, x, gamma, mean, variance } = inputs as Record<string, Info>;
  const eps = epsilonOf(attrs);
  const c = channels(x, { gamma, mean, variance });
  if (sizeOf(dy.shape) !== sizeOf(x.shape)) throw new Error('batch norm grad: dy and x differ in size');
  const io = new HostIO(backend as tf.KernelBackend, c);
  const dgamma = io.alloc([c]);
  const dbeta = io.alloc([c]);
  const [a] = io.coefficients(c, 1);
  const { sdy, sdx } = io.gradSums(dy, x, Float64Array.from(io.view(mean)));
  const gv = io.view(gamma);
  const varv = io.view(variance);
  const dgv = io.view(dgamma);
  const dbv = io.view(dbeta);
  const dyv = io.view(dy);
  for (let ch = 0; ch < c; ch++) {
    const r = 1 / Math.sqrt(varv[ch] + eps);
    a.values[ch] = gv[ch] * r;
    dgv[ch] = sdx[ch] * r;
    dbv[ch] = sdy[ch];
  }
  io.upload(a);
  const dx = io.affine(dy, dyv, a, undefined);
  io.finish();
  return [dx, dgamma, dbeta];
}

function channelDot({ inputs, backend }: KernelArgs): Info {
  const { a, b } = inputs as Record<string, Info>;
  const c = channels(a, {});
  if (sizeOf(a.shape) !== sizeOf(b.shape)) throw new Error('channel dot: a and b differ in size');
  const io = new HostIO(backend as tf.KernelBackend, c);
  const out = io.alloc([c]);
  const { sdx } = io.gradSums(a, b, new Float64Array(c)); // Σ a·(b − 0)
  io.view(out).set(sdx);
  io.finish();
  return out;
}

function channelAffine2({ inputs, backend }: KernelArgs): Info {
  const { a, alpha, b, beta } = inputs as Record<string, Info>;
  const c = channels(a, { alpha, beta });
  if (sizeOf(a.shape) !== sizeOf(b.shape)) throw new Error('channel affine: a and b differ in size');
  const io = new HostIO(backend as tf.KernelBackend, c);
  const [ca, cb, zero] = io.coefficients(c, 3);
  ca.values.set(io.view(alpha));
  cb.values.set(io.view(beta));
  io.upload(ca, cb, zero);
  const out = io.affine2(a, b, ca, cb, zero);
  io.finish();
  return out;
}

const KERNELS: Array<[string, (args: KernelArgs) => Info | Info[]]> = [
  [BATCH_NORM, batchNormTrain],
  [BATCH_NORM_GRAD, batchNormTrainGrad],
  [BATCH_NORM_EVAL, batchNormEval],
  [BATCH_NORM_EVAL_GRAD, batchNormEvalGrad],
  [CHANNEL_DOT, channelDot],
  [CHANNEL_AFFINE2, channelAffine2],
];

/** Registers the four batch-norm kernels and the two channel kernels for `backendName` ('wasm' or 'cpu'); idempotent. */
export function registerHostBatchNorm(backendName: string): void {
  for (const [kernelName, fn] of KERNELS) {
    if (tf.getKernel(kernelName, backendName) !== undefined) tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel({ kernelName, backendName, kernelFunc: fn as unknown as tf.KernelFunc });
  }
}

/**
 * Set PIPELINE_BN_FUSED=0 to run the primitive composition even where the kernels exist (for
 * comparisons); the kernels are used by default.
 */
let fusedEnabled = process.env.PIPELINE_BN_FUSED !== '0';

export function setFusedBatchNorm(enabled: boolean): void {
  fusedEnabled = enabled;
}

/** Whether ops.batchNorm takes the fused kernels on the active backend. */
export function fusedBatchNormActive(): boolean {
  return fusedEnabled && tf.getKernel(BATCH_NORM, tf.getBackend()) !== undefined;
}

/** Train mode: y and the batch's mean and biased variance (each [C]). */
export function fusedBatchNormTrain(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): [tf.Tensor, tf.Tensor1D, tf.Tensor1D] {
  const attrs: BatchNormAttrs = { epsilon };
  return tf.engine().runKernel(BATCH_NORM, { x, gamma, beta }, attrs as unknown as tf.NamedAttrMap) as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
}

/** Eval mode with running statistics. */
export function fusedBatchNormEval(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, epsilon: number): tf.Tensor {
  const attrs: BatchNormAttrs = { epsilon };
  return tf.engine().runKernel(BATCH_NORM_EVAL, { x, gamma, beta, mean, variance }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}
