import * as tf from '@tensorflow/tfjs';
import { KernelComposer } from './compose.ts';
import { im2colTransposed, type PatchGeometry, transpose2d } from './im2col.ts';

/**
 * Conv2DBackpropFilter and Conv2DBackpropInput composed from forward kernels (Conv2D with dilation,
 * transposes, pads, matmul), for backends whose own versions are missing or slow (wasm: none for the
 * filter, a naive loop for the input). Both are exact rewrites, not approximations:
 *
 *   dW[i,j,ci,co] = Σ_{n,p,q} xpad[n, p·s+i, q·s+j, ci] · dy[n,p,q,co]
 *     = conv( xᵀ [Cin,H,W,N], dyᵀ [Ho,Wo,N,Cout], stride 1, dilation s ) sliced to kh×kw
 *   dx = conv( dy dilated by s and padded, W flipped in space with in/out swapped, stride 1 )
 */

/** Patch geometry plus the output channel count. */
export interface ConvGeometry extends PatchGeometry {
  outC: number;
}

export function geometry(
  xShape: number[],
  filterShape: number[],
  attrs: tf.NamedAttrMap,
): ConvGeometry {
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

export function conv2dBackpropFilter(
  k: KernelComposer,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  filterShape: number[],
  attrs: tf.NamedAttrMap,
): tf.TensorInfo {
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
  const xt = k.transpose(x, [3, 1, 2, 0]); // [Cin, H, W, N]
  const dyt = k.transpose(dy, [1, 2, 0, 3]); // [Ho, Wo, N, Cout]
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
  const cut = k.slice(conv, [0, 0, 0, 0], [g.inC, g.kh, g.kw, g.outC]);
  return k.transpose(cut, [1, 2, 0, 3]);
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

/**
 * W[kh,kw,Cin,Cout] → W'[i,j,co,ci] = W[kh−1−i, kw−1−j, ci, co], on the host: filters are small and
 * wasm's Reverse kernel measured ~1 ms per call on them.
 */
function hostFlippedFilter(k: KernelComposer, filter: tf.TensorInfo): tf.TensorInfo {
  return k.adopt(flipFilter(k.backend, filter));
}

function flipFilter(backend: tf.KernelBackend, filter: tf.TensorInfo): { shape: number[]; values: Float32Array } {
  const [kh, kw, cin, cout] = filter.shape;
  const w = backend.readSync(filter.dataId) as Float32Array;
  const out = new Float32Array(w.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++) {
      const src = ((kh - 1 - i) * kw + (kw - 1 - j)) * cin * cout;
      const dst = (i * kw + j) * cout * cin;
      for (let ci = 0; ci < cin; ci++) for (let co = 0; co < cout; co++) out[dst + co * cin + ci] = w[src + ci * cout + co];
    }
  return { shape: [kh, kw, cout, cin], values: out };
}

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
    const prod = k.run(
      'BatchMatMul',
      { a: k.reshape(dy, [1, m, g.outC]), b: k.reshape(filter, [1, g.inC, g.outC]) },
      { transposeA: false, transposeB: true },
    );
    return k.finish(k.reshape(prod, [g.batch, g.inH, g.inW, g.inC]));
  }
  // Insert s−1 zeros after every row/column of dy (the trailing ones are trimmed or padded below).
  let dil = dy;
  if (g.strideH > 1 || g.strideW > 1) {
    const r = k.reshape(dy, [g.batch, g.outH, 1, g.outW, 1, g.outC]);
    const p = k.pad(r, [
      [0, 0],
      [0, 0],
      [0, g.strideH - 1],
      [0, 0],
      [0, g.strideW - 1],
      [0, 0],
    ]);
    dil = k.reshape(p, [g.batch, g.outH * g.strideH, g.outW * g.strideW, g.outC]);
  }
  const top = g.kh - 1 - g.padTop;
  const left = g.kw - 1 - g.padLeft;
  if (top < 0 || left < 0) throw new Error('conv backprop input: padding larger than the kernel is not supported');
  // Rows needed: H + kh − 1 in total, of which `top` are leading zeros.
  const bottom = g.inH + g.kh - 1 - top - dil.shape[1];
  const right = g.inW + g.kw - 1 - left - dil.shape[2];
  dil = k.slice(dil, [0, 0, 0, 0], [g.batch, dil.shape[1] + Math.min(0, bottom), dil.shape[2] + Math.min(0, right), g.outC]);
  const out = k.run(
    'Conv2D',
    { x: dil, filter: flipped(k, filter) }, // [kh,kw,Cout,Cin]
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [top, Math.max(0, bottom)],
        [left, Math.max(0, right)],
        [0, 0],
      ],
      dilations: [1, 1],
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
    },
  );
  return k.finish(out);
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
