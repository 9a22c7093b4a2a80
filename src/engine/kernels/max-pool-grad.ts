import * as tf from '@tensorflow/tfjs';

/**
 * MaxPoolGrad in plain JS over the wasm heap. tfjs-backend-wasm 4.22's own MaxPoolGrad drops the
 * last window of each row/column when the output size is odd (measured: 8 of 9 windows routed on a
 * 6×6 input), which silently corrupts VGG/LeNet training. Semantics match the cpu backend: each
 * window's gradient goes to its first maximum in row-major order (the first tap when all are NaN),
 * and windows add in row-major order where they overlap.
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
      const info = tf.backend_util.computePool2DInfo(
        input.shape as [number, number, number, number],
        filterSize,
        strides,
        1,
        pad,
        dimRoundingMode,
      );
      const be = backend as HeapBackend;
      const dx = be.makeOutput(input.shape, 'float32');
      // Views after the allocation: growing the heap detaches earlier ones.
      maxPoolGradInto(be.typedArrayFromHeap(input), be.typedArrayFromHeap(dy), info, be.typedArrayFromHeap(dx));
      return dx;
    },
  });
}
