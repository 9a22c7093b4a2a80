import * as tf from '@tensorflow/tfjs';
import { KernelComposer } from '../compose.ts';
import { type ConvGeometry, conv2dBackpropInput, geometry, isPointwise } from '../conv-backprop.ts';

/**
 * Convolution gradients for webgpu, on the device. tfjs-webgpu's Conv2DBackpropFilter runs at
 * 0.2–1.2 TFLOP/s (5–50× slower than a forward conv of the same FLOPs, measured on an H200; see
 * scripts/gpu/README.md); the filter gradient is instead a matrix product:
 *   dW [kh·kw·Cin, Cout] = patchesᵀ [kh·kw·Cin, M] · dy [M, Cout],  M = N·Ho·Wo,
 * with the patches gathered by kh·kw strided slices of the padded input (im2col) and the long M
 * axis split into chunks that run as one batched matMul and are then summed (split-K: the output
 * is small, so without the split few workgroups would share all the work).
 * The input gradient of a stride-1 conv is a forward conv of dy with the flipped filter (the wasm
 * composition, with the flip on the device); strided ones keep tfjs-webgpu's kernel, whose
 * dilated-dy composition would multiply mostly zeros.
 */

/** Rows per split-K chunk; PIPELINE_SPLITK_ROWS overrides it for tuning on a given GPU. */
const SPLIT_ROWS = Number(process.env.PIPELINE_SPLITK_ROWS ?? 4096);

/** A divisor of m near m / SPLIT_ROWS (1 when m is small). */
export function splitCount(m: number, rows = SPLIT_ROWS): number {
  const want = Math.ceil(m / rows);
  if (want <= 1) return 1;
  for (let s = want; s <= 2 * want; s++) if (m % s === 0) return s;
  for (let s = want - 1; s > 1; s--) if (m % s === 0) return s;
  return 1;
}

/** Σ_chunks aᵀ·b over the M axis: a [M, K], b [M, Cout] → [K, Cout]. */
function splitKProduct(k: KernelComposer, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
  const [m, kk] = a.shape;
  const cout = b.shape[1];
  const s = splitCount(m);
  const prod = k.run('BatchMatMul', { a: k.reshape(a, [s, m / s, kk]), b: k.reshape(b, [s, m / s, cout]) }, { transposeA: true, transposeB: false });
  return s === 1 ? k.reshape(prod, [kk, cout]) : k.run('Sum', { x: prod }, { axis: [0], keepDims: false });
}

/** im2col: [N·Ho·Wo, kh·kw·Cin], columns ordered (i, j, ci) like the filter's first three axes. */
function patches(k: KernelComposer, x: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  const needH = g.kh + g.strideH * (g.outH - 1);
  const needW = g.kw + g.strideW * (g.outW - 1);
  const xp = k.pad(x, [
    [0, 0],
    [g.padTop, Math.max(0, needH - g.inH - g.padTop)],
    [g.padLeft, Math.max(0, needW - g.inW - g.padLeft)],
    [0, 0],
  ]);
  const cols: tf.TensorInfo[] = [];
  for (let i = 0; i < g.kh; i++)
    for (let j = 0; j < g.kw; j++) {
      cols.push(
        k.run(
          'StridedSlice',
          { x: xp },
          {
            begin: [0, i, j, 0],
            end: [g.batch, i + g.strideH * (g.outH - 1) + 1, j + g.strideW * (g.outW - 1) + 1, g.inC],
            strides: [1, g.strideH, g.strideW, 1],
            beginMask: 0,
            endMask: 0,
            ellipsisMask: 0,
            newAxisMask: 0,
            shrinkAxisMask: 0,
          },
        ),
      );
    }
  const all = cols.length === 1 ? cols[0] : k.run('Concat', cols as unknown as Record<string, tf.TensorInfo>, { axis: 3 });
  return k.reshape(all, [g.batch * g.outH * g.outW, g.kh * g.kw * g.inC]);
}

export function filterGradByIm2col(k: KernelComposer, x: tf.TensorInfo, dy: tf.TensorInfo, filterShape: number[], attrs: tf.NamedAttrMap): tf.TensorInfo {
  const g = geometry(x.shape, filterShape, attrs);
  const cols = isPointwise(g) && g.strideH === 1 && g.strideW === 1 ? k.reshape(x, [g.batch * g.inH * g.inW, g.inC]) : patches(k, x, g);
  const dw = splitKProduct(k, cols, k.reshape(dy, [g.batch * g.outH * g.outW, g.outC]));
  return k.finish(k.reshape(dw, [g.kh, g.kw, g.inC, g.outC]));
}

/** W[kh,kw,Cin,Cout] → W'[i,j,co,ci] = W[kh−1−i, kw−1−j, ci, co], by device kernels. */
function deviceFlippedFilter(k: KernelComposer, filter: tf.TensorInfo): tf.TensorInfo {
  return k.transpose(k.run('Reverse', { x: filter }, { dims: [0, 1] }), [0, 1, 3, 2]);
}

export function registerWebGpuConvBackprop(backendName: string): void {
  const own = tf.getKernel('Conv2DBackpropInput', backendName);
  if (own === undefined) throw new Error(`${backendName} has no Conv2DBackpropInput kernel to fall back on`);
  const ownInput = (own as tf.KernelConfig & { ownKernelFunc?: tf.KernelFunc }).ownKernelFunc ?? own.kernelFunc;
  for (const name of ['Conv2DBackpropFilter', 'Conv2DBackpropInput']) tf.unregisterKernel(name, backendName);
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const { filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
      return filterGradByIm2col(new KernelComposer(backend as tf.KernelBackend, backendName), x, dy, filterShape, attrs!);
    },
  });
  tf.registerKernel({
    kernelName: 'Conv2DBackpropInput',
    backendName,
    ownKernelFunc: ownInput,
    kernelFunc: (args) => {
      const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const { inputShape, strides } = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
      const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
      if (sh !== 1 || sw !== 1) return ownInput(args);
      return conv2dBackpropInput(new KernelComposer(args.backend as tf.KernelBackend, backendName), dy, filter, inputShape, args.attrs!, deviceFlippedFilter);
    },
  } as tf.KernelConfig);
}
