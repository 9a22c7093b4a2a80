import * as tf from '@tensorflow/tfjs';

type RefCountingBackend = tf.KernelBackend & { incRef(dataId: tf.DataId): void };

const SHARED = Symbol('pipeline shares data');

/**
 * Identity (and Cast to the same dtype) hand back the input's data with one more reference, as the
 * cpu and webgpu backends do. tfjs-wasm copies it instead, and autodiff clones every tensor it saves
 * for the backward pass: ~460 full-size copies per ResNet-18 train step, on one thread. Safe because
 * no kernel writes into its inputs (tensors are immutable; Variable.assign swaps data, never writes).
 */
export function registerSharedIdentity(backendName: string): void {
  const identity = tf.getKernel('Identity', backendName);
  const cast = tf.getKernel('Cast', backendName);
  if (identity === undefined || cast === undefined || SHARED in cast.kernelFunc) return;
  const share = (x: tf.TensorInfo, backend: tf.KernelBackend): tf.TensorInfo => {
    (backend as RefCountingBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  const castFunc: tf.KernelFunc = (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { dtype } = args.attrs as unknown as tf.CastAttrs;
    return x.dtype === dtype && dtype !== 'string' ? share(x, args.backend as tf.KernelBackend) : cast.kernelFunc(args);
  };
  Object.defineProperty(castFunc, SHARED, { value: true });
  tf.unregisterKernel('Identity', backendName);
  tf.unregisterKernel('Cast', backendName);
  tf.registerKernel({
    ...identity,
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      return x.dtype === 'string' ? identity.kernelFunc(args) : share(x, args.backend as tf.KernelBackend);
    },
  });
  tf.registerKernel({ ...cast, kernelFunc: castFunc });
}
