import * as tf from '@tensorflow/tfjs';
import { KernelComposer } from './compose.ts';
import { cropToHwio, flippedSubFilter, reverseAxes3, scatterPhase, swapLeadingAxes, transpose2d } from './host-layout.ts';
import { im2colTransposed, type PatchGeometry } from './im2col.ts';

/**
 * Conv2DBackpropFilter and Conv2DBackpropInput composed from forward kernels (Conv2D with dilation,
 * matmul) and host data movement, for backends whose own versions are missing or slow (wasm: none for
 * the filter, a naive loop for the input; wasm's filter gradient is the SIMD kernel of
 * kernels/wasm/conv-backprop-filter.ts once that starts, this one otherwise). Both are exact
 * rewrites, not approximations:
 *
 *   dW[i,j,ci,co] = Σ_{n,p,q} xpad[n, p·s+i, q·s+j, ci] · dy[n,p,q,co]
 *     = conv( xᵀ [Cin,H,W,N], dyᵀ [Ho,Wo,N,Cout], stride 1, dilation s ) cropped to kh×kw
 *   dx = conv( dy padded, W flipped in space with in/out swapped, stride 1 )          (stride 1)
 *   dx = s² such convs, one per output phase (y mod s, x mod s), each with the taps of W that reach
 *        that phase, interleaved                                                  (stride s > 1)
 * The polyphase form does the forward conv's FLOPs; convolving dy dilated with s−1 zeros did s² times
 * as many, on zeros.
 */

/** Patch geometry plus the output channel count. */
export interface ConvGeometry extends PatchGeometry {
  outC: number;
}

export function geometry(xShape: number[], filterShape: number[], attrs: tf.NamedAttrMap): ConvGeometry {
  const { strides, pad, dataFormat, dimRoundingMode, dilations } = attrs as unknown as tf.Conv2DBackpropFilterAttrs & {
    dilations?: number | [number, number];
  };
  if (dataFormat !== undefined && dataFormat !== 'NHWC') throw new Error(`conv backprop: only NHWC is supported, got ${dataFormat}`);
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    dilations ?? 1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) throw new Error('conv backprop: dilated convolutions are not supported');
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    kh: info.filterHeight,
    kw: info.filterWidth,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

export const isPointwise = (g: ConvGeometry) => g.kh === 1 && g.kw === 1 && g.padTop === 0 && g.padLeft === 0;

export function conv2dBackpropFilter(k: KernelComposer, x: tf.TensorInfo, dy: tf.TensorInfo, filterShape: number[], attrs: tf.NamedAttrMap): tf.TensorInfo {
  const g = geometry(x.shape, filterShape, attrs);
  if (!isPointwise(g)) return k.finish(filterGradByDilatedConv(k, x, dy, g));
  if (g.strideH === 1 && g.strideW === 1) {
    // 1×1: dW = xᵀ · dy over all N·H·W positions.
    const m = g.batch * g.outH * g.outW;
    const prod = k.run('BatchMatMul', { a: k.reshape(x, [1, m, g.inC]), b: k.reshape(dy, [1, m, g.outC]) }, { transposeA: true, transposeB: false });
    return k.finish(k.reshape(prod, [1, 1, g.inC, g.outC]));
  }
  return k.finish(filterGradByPatches(k, x, dy, g));
}

/** k×k filters (measured on resnet18 shapes: faster than host patches + matmul). */
function filterGradByDilatedConv(k: KernelComposer, x: tf.TensorInfo, dy: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  // Spatial extent the dilated "filter" (dy) sweeps: kh + s·(Ho−1) rows of padded x.
  const needH = g.kh + g.strideH * (g.outH - 1);
  const needW = g.kw + g.strideW * (g.outW - 1);
  const padBottom = Math.max(0, needH - g.inH - g.padTop);
  const padRight = Math.max(0, needW - g.inW - g.padLeft);
  const xt = k.alloc([g.inC, g.inH, g.inW, g.batch]);
  const dyt = k.alloc([g.outH, g.outW, g.batch, g.outC]);
  reverseAxes3(k.view(x), g.batch, g.inH * g.inW, g.inC, k.view(xt));
  swapLeadingAxes(k.view(dy), g.batch, g.outH * g.outW, g.outC, k.view(dyt));
  const conv = k.run(
    'Conv2D',
    { x: xt, filter: dyt },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [g.padTop, padBottom],
        [g.padLeft, padRight],
        [0, 0],
      ],
      dilations: [g.strideH, g.strideW],
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
    },
  ); // [Cin, ≥kh, ≥kw, Cout]
  const dw = k.alloc([g.kh, g.kw, g.inC, g.outC]);
  const [, h, w] = conv.shape;
  cropToHwio(k.view(conv), g.inC, h, w, g.outC, g.kh, g.kw, k.view(dw));
  return dw;
}

/**
 * dW [K, Cout] = patchesᵀ [K, M] · dy [M, Cout]; used for strided 1×1 (2× faster than the dilated
 * conv there). wasm's BatchMatMul is only fast untransposed and packs its right operand on every
 * call, so the big operand goes left, built transposed on the host.
 */
function filterGradByPatches(k: KernelComposer, x: tf.TensorInfo, dy: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  const m = g.batch * g.outH * g.outW;
  const xT = k.alloc([g.inC, g.batch * g.inH * g.inW]);
  const patchesT = k.alloc([1, g.kh * g.kw * g.inC, m]);
  transpose2d(k.view(x), g.batch * g.inH * g.inW, g.inC, k.view(xT));
  im2colTransposed(k.view(xT), g, k.view(patchesT));
  const prod = k.run('BatchMatMul', { a: patchesT, b: k.reshape(dy, [1, m, g.outC]) }, { transposeA: false, transposeB: false });
  return k.reshape(prod, [g.kh, g.kw, g.inC, g.outC]);
}

/** The whole filter flipped in space with in/out swapped, [kh,kw,Cout,Cin], on the host. */
function hostFlippedFilter(k: KernelComposer, filter: tf.TensorInfo): tf.TensorInfo {
  const [kh, kw, cin, cout] = filter.shape;
  const out = k.alloc([kh, kw, cout, cin]);
  flippedSubFilter(k.view(filter), filter.shape, { r: 0, c: 0, sh: 1, sw: 1, th: kh, tw: kw }, k.view(out));
  return out;
}

/**
 * Along one axis, the output positions y ≡ r − pad (mod s) of phase r: they take the taps i = r + s·t
 * (t < taps) and, at y = s·Y + r − pad for Y in [lo, lo + count), sum dy rows Y − taps + 1 … Y.
 * As a valid conv of dy with the flipped taps: `before` rows of zeros above dy (cropped when
 * negative), `after` below.
 */
export interface PhaseAxis {
  taps: number;
  /** First output position of the phase. */
  first: number;
  count: number;
  before: number;
  after: number;
}

function phaseAxis(r: number, kernel: number, stride: number, pad: number, inSize: number, outSize: number): PhaseAxis {
  const taps = Math.ceil((kernel - r) / stride);
  const lo = Math.ceil((pad - r) / stride);
  const hi = Math.floor((inSize - 1 + pad - r) / stride);
  const count = Math.max(0, hi - lo + 1);
  const before = taps - 1 - lo;
  return { taps, first: stride * lo + r - pad, count, before, after: count + taps - 1 - outSize - before };
}

/** dy cropped and padded for one phase's valid conv: explicit padding, slicing where it is negative. */
function phaseInput(k: KernelComposer, dy: tf.TensorInfo, py: PhaseAxis, px: PhaseAxis): { input: tf.TensorInfo; pad: Array<[number, number]> } {
  const [n, h, w, c] = dy.shape;
  const cropTop = Math.max(0, -py.before);
  const cropLeft = Math.max(0, -px.before);
  const input = k.slice(dy, [0, cropTop, cropLeft, 0], [n, h - cropTop - Math.max(0, -py.after), w - cropLeft - Math.max(0, -px.after), c]);
  const pad: Array<[number, number]> = [
    [0, 0],
    [Math.max(0, py.before), Math.max(0, py.after)],
    [Math.max(0, px.before), Math.max(0, px.after)],
    [0, 0],
  ];
  return { input, pad };
}

/** An output phase (y mod s = r, x mod s = c, shifted by the padding) and its two axes. */
export interface OutputPhase {
  r: number;
  c: number;
  py: PhaseAxis;
  px: PhaseAxis;
}

/** The output phases of a strided input gradient that some tap reaches and that hold positions, row-major. */
export function outputPhases(g: ConvGeometry): OutputPhase[] {
  const phases: OutputPhase[] = [];
  for (let r = 0; r < g.strideH; r++)
    for (let c = 0; c < g.strideW; c++) {
      const py = phaseAxis(r, g.kh, g.strideH, g.padTop, g.inH, g.outH);
      const px = phaseAxis(c, g.kw, g.strideW, g.padLeft, g.inW, g.outW);
      if (py.taps > 0 && px.taps > 0 && py.count > 0 && px.count > 0) phases.push({ r, c, py, px });
    }
  return phases;
}

const convAttrs = (pad: Array<[number, number]>) => ({ strides: [1, 1], pad, dilations: [1, 1], dataFormat: 'NHWC', dimRoundingMode: undefined });

export function conv2dBackpropInput(
  k: KernelComposer,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  inputShape: number[],
  attrs: tf.NamedAttrMap,
  flipped: (k: KernelComposer, filter: tf.TensorInfo) => tf.TensorInfo = hostFlippedFilter,
): tf.TensorInfo {
  const g = geometry(inputShape, filter.shape, attrs);
  if (isPointwise(g) && g.strideH === 1 && g.strideW === 1) {
    const m = g.batch * g.outH * g.outW;
    const prod = k.run('BatchMatMul', { a: k.reshape(dy, [1, m, g.outC]), b: k.reshape(filter, [1, g.inC, g.outC]) }, { transposeA: false, transposeB: true });
    return k.finish(k.reshape(prod, [g.batch, g.inH, g.inW, g.inC]));
  }
  if (g.strideH === 1 && g.strideW === 1) {
    const py = phaseAxis(0, g.kh, 1, g.padTop, g.inH, g.outH);
    const px = phaseAxis(0, g.kw, 1, g.padLeft, g.inW, g.outW);
    const { input, pad } = phaseInput(k, dy, py, px);
    return k.finish(k.run('Conv2D', { x: input, filter: flipped(k, filter) }, convAttrs(pad)));
  }
  return k.finish(inputGradByPhases(k, dy, filter, g));
}

/** Strided input gradient: one valid conv per output phase, interleaved on the host. */
function inputGradByPhases(k: KernelComposer, dy: tf.TensorInfo, filter: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  const phases = outputPhases(g);
  const subFilters = phases.map(({ py, px }) => k.alloc([py.taps, px.taps, g.outC, g.inC]));
  const w = k.view(filter);
  phases.forEach(({ r, c, py, px }, i) =>
    flippedSubFilter(w, filter.shape, { r, c, sh: g.strideH, sw: g.strideW, th: py.taps, tw: px.taps }, k.view(subFilters[i])),
  );
  const parts = phases.map(({ py, px }, i) => {
    const { input, pad } = phaseInput(k, dy, py, px);
    return k.run('Conv2D', { x: input, filter: subFilters[i] }, convAttrs(pad));
  });
  const dx = k.alloc([g.batch, g.inH, g.inW, g.inC]);
  const out = k.view(dx);
  const covered = phases.reduce((n, { py, px }) => n + py.count * px.count, 0);
  if (covered < g.inH * g.inW) out.fill(0); // positions no tap reaches (e.g. a 1×1 filter with stride 2)
  phases.forEach(({ py, px }, i) =>
    scatterPhase(k.view(parts[i]), parts[i].shape, out, [g.inH, g.inW], { y0: py.first, x0: px.first, sh: g.strideH, sw: g.strideW }),
  );
  return dx;
}

/** Registers the composed kernels for `backendName` (a backend with XNNPACK-style fast forward convs). */
export function registerComposedConvBackprop(backendName: string): void {
  for (const name of ['Conv2DBackpropFilter', 'Conv2DBackpropInput']) {
    if (tf.getKernel(name, backendName) !== undefined) tf.unregisterKernel(name, backendName);
  }
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const filterShape = (attrs as unknown as tf.Conv2DBackpropFilterAttrs).filterShape;
      return conv2dBackpropFilter(new KernelComposer(backend as tf.KernelBackend, backendName), x, dy, filterShape, attrs!);
    },
  });
  tf.registerKernel({
    kernelName: 'Conv2DBackpropInput',
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const inputShape = (attrs as unknown as tf.Conv2DBackpropInputAttrs).inputShape;
      return conv2dBackpropInput(new KernelComposer(backend as tf.KernelBackend, backendName), dy, filter, inputShape, attrs!);
    },
  });
}
