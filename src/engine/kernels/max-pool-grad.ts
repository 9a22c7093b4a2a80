import * as tf from '@tensorflow/tfjs';
import { MIN_ELEMENTS_PER_BLOCK, simdKernels } from './wasm/simd-kernels.ts';

/**
 * MaxPoolGrad in plain JS over the wasm heap. tfjs-backend-wasm 4.22's own MaxPoolGrad drops the
 * last window of each row/column when the output size is odd (measured: 8 of 9 windows routed on a
 * 6×6 input), which silently corrupts VGG/LeNet training. Semantics match the cpu backend for finite
 * values: each window's gradient goes to its first maximum in row-major order, and windows add in
 * row-major order where they overlap. A NaN never wins against the taps before it, and a window
 * whose first tap is NaN keeps routing to it (cpu skips NaNs, and routes an all-NaN window nowhere).
 *
 * Windows that lie inside x (all of them without padding) take their taps from precomputed offsets,
 * with no bounds checks (1.2–1.8× faster on lenet5's pools).
 */
export function maxPoolGradInto(x: Float32Array, dy: Float32Array, info: tf.backend_util.Conv2DInfo, dx: Float32Array): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { dilationHeight: dh, dilationWidth: dw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Offsets of the taps from a window's first tap, for windows that lie entirely inside x.
  const taps: number[] = [];
  for (let fy = 0; fy < fh; fy += dh) for (let fx = 0; fx < fw; fx += dw) taps.push((fy * w + fx) * c);
  const offsets = Int32Array.from(taps);
  const rowInside = (oy: number) => oy * sh - top >= 0 && oy * sh - top + fh - 1 < h;
  const colInside = (ox: number) => ox * sw - left >= 0 && ox * sw - left + fw - 1 < w;
  dx.fill(0);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const iy0 = oy * sh - top;
      for (let ox = 0; ox < ow; ox++) {
        const ix0 = ox * sw - left;
        const o = ((b * oh + oy) * ow + ox) * c;
        if (rowInside(oy) && colInside(ox)) {
          const base = ((b * h + iy0) * w + ix0) * c;
          for (let ch = 0; ch < c; ch++) {
            let at = base + ch;
            let best = x[at];
            for (let t = 1; t < offsets.length; t++) {
              // Selects rather than branches: which tap wins is data, and mispredicted jumps cost more.
              const i = base + offsets[t] + ch;
              const v = x[i];
              at = v > best ? i : at;
              best = v > best ? v : best;
            }
            dx[at] += dy[o + ch];
          }
        } else {
          for (let ch = 0; ch < c; ch++) {
            let at = -1;
            let best = 0;
            for (let fy = 0; fy < fh; fy += dh) {
              const iy = iy0 + fy;
              if (iy < 0 || iy >= h) continue;
              for (let fx = 0; fx < fw; fx += dw) {
                const ix = ix0 + fx;
                if (ix < 0 || ix >= w) continue;
                const i = ((b * h + iy) * w + ix) * c + ch;
                if (at < 0 || x[i] > best) {
                  best = x[i];
                  at = i;
                }
              }
            }
            if (at >= 0) dx[at] += dy[o + ch]; // a window entirely in the padding routes nothing
          }
        }
      }
    }
  }
}

/**
 * The case of the project's SIMD kernel (wasm/max-pool-grad.wat): windows that tile x without
 * overlap or padding (VGG's and LeNet's 2×2 pools), channels in 4s. Same routing as maxPoolGradInto.
 */
function tilesWithoutOverlap(info: tf.backend_util.Conv2DInfo): boolean {
  return (
    info.inChannels % 4 === 0 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    info.strideHeight === info.filterHeight &&
    info.strideWidth === info.filterWidth &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    info.outHeight * info.filterHeight <= info.inHeight &&
    info.outWidth * info.filterWidth <= info.inWidth
  );
}

/** The wasm backend creates outputs through makeOutput (it lacks makeTensorInfo) and views its heap. */
type HeapBackend = tf.KernelBackend & {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
};

export function registerHostMaxPoolGrad(backendName: string): void {
  if (tf.getKernel('MaxPoolGrad', backendName) !== undefined) tf.unregisterKernel('MaxPoolGrad', backendName);
  tf.registerKernel({
    kernelName: 'MaxPoolGrad',
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
      const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolGradAttrs;
      const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
      const be = backend as HeapBackend;
      const dx = be.makeOutput(input.shape, 'float32');
      // Views after the allocation: growing the heap detaches earlier ones.
      const pool = simdKernels();
      if (pool !== undefined && tilesWithoutOverlap(info)) {
        const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, filterHeight: fh, filterWidth: fw } = info;
        if (oh * fh < h || ow * fw < w) be.typedArrayFromHeap(dx).fill(0); // rows/columns no window reaches
        const at = (t: tf.TensorInfo) => be.typedArrayFromHeap(t).byteOffset;
        pool.run('maxPoolGrad', [at(input), at(dy), at(dx), h, w, c, oh, ow, fh, fw], n * oh, Math.ceil(MIN_ELEMENTS_PER_BLOCK / (ow * fh * fw * c)));
        return dx;
      }
      maxPoolGradInto(be.typedArrayFromHeap(input), be.typedArrayFromHeap(dy), info, be.typedArrayFromHeap(dx));
      return dx;
    },
  });
}
