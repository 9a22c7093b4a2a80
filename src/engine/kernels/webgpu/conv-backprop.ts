import * as tf from '@tensorflow/tfjs';
import { KernelComposer } from '../compose.ts';
import { conv2dBackpropInput } from '../conv-backprop.ts';
import { filterGradImplicitGemm } from './conv-filter-grad.ts';

/**
 * Convolution gradients for webgpu, on the device. tfjs-webgpu's Conv2DBackpropFilter runs at
 * 0.2–1.2 TFLOP/s (5–50× slower than a forward conv of the same FLOPs, measured on an H200; see
 * scripts/gpu/README.md); the filter gradient is instead a tiled implicit GEMM (conv-filter-grad.ts).
 * The input gradient of a stride-1 conv is a forward conv of dy with the flipped filter (the wasm
 * composition, with the flip on the device); strided ones keep tfjs-webgpu's kernel, whose
 * dilated-dy composition would multiply mostly zeros.
 */

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
      return filterGradImplicitGemm(backend as tf.KernelBackend, backendName, x, dy, filterShape, attrs!);
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
