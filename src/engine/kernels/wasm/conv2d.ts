import * as tf from '@tensorflow/tfjs';
import { KernelComposer } from '../compose.ts';
import { geometry } from '../conv-backprop.ts';
import type { WasmKernelPool } from '../../backends/wasm-pool.ts';
import { MIN_ELEMENTS_PER_BLOCK, simdKernels } from './simd-kernels.ts';

const SIMD = Symbol('pipeline simd conv2d');
const replaced = new Map<string, tf.KernelConfig>();

/** The Conv2D kernel this one replaced on `backendName` (XNNPACK on wasm; for comparisons). */
export function replacedConv2D(backendName: string): tf.KernelConfig | undefined {
  return replaced.get(backendName);
}

/** Below this many multiply-adds a block costs more to hand to another thread than it saves. */
const MIN_MACS_PER_BLOCK = 1 << 18;

/**
 * xp[n, y + top, x + left, :] = x[n, y, x, :] inside [hp, wp], zeros elsewhere (rows and columns of x
 * beyond the window the conv reads are left out), on all threads: x and xp are [n, h, w, c] and
 * [n, hp, wp, c] float32 tensors at byte offsets `x` and `xp` of the pool's heap.
 */
export function padSpatial(
  pool: WasmKernelPool,
  x: number,
  [n, h, w, c]: readonly number[],
  top: number,
  left: number,
  hp: number,
  wp: number,
  xp: number,
): void {
  const x0 = Math.max(0, -left);
  const x1 = Math.max(x0, Math.min(w, wp - left));
  pool.run('padRows', [x, xp, h, w, c, top, left, hp, wp, x0, x1], n * hp, Math.ceil(MIN_ELEMENTS_PER_BLOCK / (wp * c)));
}

/** Packed filter elements (in groups of 8) a block is worth handing to another thread for. */
const MIN_PACK_GROUPS_PER_BLOCK = 2048;

/**
 * dst [cout/8, rows, 8] = src [rows, cout] cut into blocks of 8 columns (each block's rows contiguous),
 * on all threads; src and dst are byte offsets of float32 tensors on the pool's heap.
 */
export function packFilter(pool: WasmKernelPool, src: number, rows: number, cout: number, dst: number): void {
  pool.run('packFilter', [src, dst, rows, cout], (cout / 8) * rows, MIN_PACK_GROUPS_PER_BLOCK);
}

/**
 * The taps of W [kh, kw, cin, cout] that reach output phase (r, c) of a strided input gradient,
 * flipped in space, with in/out swapped, packed as conv2d.wat takes a filter: dst [cin/8, th, tw,
 * cout, 8] with dst[b, t, u, co, l] = W[r + sh·(th−1−t), c + sw·(tw−1−u), 8b + l, co]; on all threads.
 */
export function packPhaseFilter(
  pool: WasmKernelPool,
  w: number,
  [, kw, cin, cout]: readonly number[],
  r: number,
  c: number,
  sh: number,
  sw: number,
  th: number,
  tw: number,
  dst: number,
): void {
  pool.run('packPhaseFilter', [w, dst, kw, cin, cout, r, c, sh, sw, th, tw], (cin / 8) * th * tw * cout, MIN_PACK_GROUPS_PER_BLOCK);
}

/** conv2d.wat's input: x [n, rows, cols, cin] from byte `x` (padded: every tap it reads exists), the packed filter. */
export interface ConvInput {
  x: number;
  rows: number;
  cols: number;
  cin: number;
  packed: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
}

/**
 * conv2d.wat's output: n·ho·wo positions of cout channels, written densely from byte `y`, or with
 * `into` to y[n, y0 + p·sy, x0 + q·sx, :] of a [n, h, w, cout] tensor.
 */
export interface ConvOutput {
  y: number;
  n: number;
  ho: number;
  wo: number;
  cout: number;
  into?: { h: number; w: number; y0: number; x0: number; sy: number; sx: number };
}

/** Runs conv2d.wat on all threads. */
export function runConv2D(pool: WasmKernelPool, i: ConvInput, o: ConvOutput): void {
  const groups = Math.ceil((o.n * o.ho * o.wo) / 4);
  const macsPerItem = 4 * i.kh * i.kw * i.cin * 8;
  // Keep in cache the larger of the two an item reads: the whole filter or the whole of x.
  const wFirst = i.kh * i.kw * i.cin * o.cout > o.n * i.rows * i.cols * i.cin ? 1 : 0;
  const d = o.into ?? { h: o.ho, w: o.wo, y0: 0, x0: 0, sy: 1, sx: 1 };
  pool.run(
    'conv2d',
    [i.x, i.packed, o.y, o.n, i.rows, i.cols, i.cin, o.ho, o.wo, o.cout, i.kh, i.kw, i.sh, i.sw, wFirst, d.h, d.w, d.y0, d.x0, d.sy, d.sx],
    groups * (o.cout / 8),
    Math.ceil(MIN_MACS_PER_BLOCK / macsPerItem),
  );
}

/**
 * Conv2D by the project's SIMD kernel (conv2d.wat) on all threads, for float32, undilated, NHWC
 * convolutions with output channels in 8s; the kernel registered before it runs the rest. Why: XNNPACK's
 * pool keeps its worker spinning for 1.5–2.3 ms after every convolution, so the project's kernels that
 * follow one (batch norm, the filter gradient) shared the second core with it; with the convolutions
 * here too, every thread belongs to one pool that sleeps when idle.
 */
export function registerSimdConv2D(backendName: string): void {
  const previous = tf.getKernel('Conv2D', backendName);
  if (previous === undefined || SIMD in previous.kernelFunc) return;
  replaced.set(backendName, previous);
  const kernelFunc: tf.KernelFunc = (args) => {
    const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
    const attrs = args.attrs as unknown as tf.Conv2DAttrs;
    const pool = simdKernels();
    const [kh, kw, cin, cout] = filter.shape;
    const dilations = attrs.dilations ?? 1;
    const undilated = dilations === 1 || (Array.isArray(dilations) && dilations[0] === 1 && dilations[1] === 1);
    if (pool === undefined || x.dtype !== 'float32' || filter.dtype !== 'float32' || cout % 8 !== 0 || !undilated || (attrs.dataFormat ?? 'NHWC') !== 'NHWC') {
      return previous.kernelFunc(args);
    }
    const g = geometry(x.shape, filter.shape, args.attrs!);
    const { batch: n, inH: h, inW: w, outH: ho, outW: wo, strideH: sh, strideW: sw, padTop: top, padLeft: left } = g;
    const k = new KernelComposer(args.backend as tf.KernelBackend, backendName);
    const hp = (ho - 1) * sh + kh;
    const wp = (wo - 1) * sw + kw;
    // Without padding x serves as is (its rows and columns past the window are never read).
    const inPlace = top === 0 && left === 0 && hp <= h && wp <= w;
    const xp = inPlace ? x : k.alloc([n, hp, wp, cin]);
    const packed = k.alloc([cout / 8, kh, kw, cin, 8]);
    const y = k.alloc([n, ho, wo, cout]);
    // Views after the last allocation: the heap may move when it grows.
    const at = (t: tf.TensorInfo) => k.view(t).byteOffset;
    if (!inPlace) padSpatial(pool, at(x), x.shape, top, left, hp, wp, at(xp));
    packFilter(pool, at(filter), kh * kw * cin, cout, at(packed));
    const [, rows, cols] = xp.shape;
    runConv2D(pool, { x: at(xp), rows, cols, cin, packed: at(packed), kh, kw, sh, sw }, { y: at(y), n, ho, wo, cout });
    return k.finish(y);
  };
  Object.defineProperty(kernelFunc, SIMD, { value: true });
  tf.unregisterKernel('Conv2D', backendName);
  tf.registerKernel({ ...previous, kernelFunc });
}
