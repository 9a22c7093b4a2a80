import * as tf from '@tensorflow/tfjs';

/**
 * MaxPoolGrad in plain JS over the backend's host memory. tfjs-backend-wasm 4.22's own MaxPoolGrad
 * drops the last window of each row/column when the output size is odd (measured: 8 of 9 windows
 * routed on a 6×6 input), which silently corrupts VGG/LeNet training. Semantics match the cpu
 * backend: each window's gradient goes to its first maximum in row-major order.
 */
export function maxPoolGradValues(
  x: Float32Array,
  dy: Float32Array,
  info: tf.backend_util.Conv2DInfo,
): Float32Array {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { dilationHeight: dh, dilationWidth: dw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const dx = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let at = -1;
          for (let fy = 0; fy < fh; fy += dh) {
            const iy = oy * sh - top + fy;
            if (iy < 0 || iy >= h) continue;
            for (let fx = 0; fx < fw; fx += dw) {
              const ix = ox * sw - left + fx;
              if (ix < 0 || ix >= w) continue;
              const idx = ((b * h + iy) * w + ix) * c + ch;
              if (x[idx] > best || at < 0) {
                best = x[idx];
                at = idx;
              }
            }
          }
          if (at >= 0) dx[at] += dy[((b * oh + oy) * ow + ox) * c + ch];
        }
      }
    }
  }
  return dx;
}

/** The wasm backend creates outputs through makeOutput (it lacks makeTensorInfo). */
type HostBackend = tf.KernelBackend & {
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: Float32Array): tf.TensorInfo;
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
      const be = backend as HostBackend;
      const values = maxPoolGradValues(be.readSync(input.dataId) as Float32Array, be.readSync(dy.dataId) as Float32Array, info);
      return be.makeOutput(input.shape, 'float32', undefined, values);
    },
  });
}
