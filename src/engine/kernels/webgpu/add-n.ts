import * as tf from '@tensorflow/tfjs';

/**
 * tfjs-webgpu 4.22 compiles AddN of n tensors into one shader with n + 1 storage buffers, but a
 * device gets only maxStorageBuffersPerShaderStage of them (8 by default, as tfjs requests no
 * more): above that Dawn rejects the pipeline and the sum is garbage (an hvp over resnet20's 22
 * tensors came out 30–1000 % off, differently on every run). Sums of more inputs are done here in
 * chunks that fit, then summed again.
 */
export function registerChunkedAddN(backendName: string): void {
  const own = tf.getKernel('AddN', backendName) as (tf.KernelConfig & { ownKernelFunc?: tf.KernelFunc }) | undefined;
  if (own === undefined) throw new Error(`${backendName} has no AddN kernel`);
  const addN = own.ownKernelFunc ?? own.kernelFunc;
  tf.unregisterKernel('AddN', backendName);
  tf.registerKernel({
    kernelName: 'AddN',
    backendName,
    ownKernelFunc: addN,
    kernelFunc: (args) => {
      const be = args.backend as tf.KernelBackend & { device: GPUDevice };
      const most = Math.max(2, be.device.limits.maxStorageBuffersPerShaderStage - 1);
      let inputs = args.inputs as unknown as tf.TensorInfo[];
      const partials: tf.TensorInfo[] = [];
      while (inputs.length > most) {
        const next: tf.TensorInfo[] = [];
        for (let i = 0; i < inputs.length; i += most) {
          const chunk = inputs.slice(i, i + most);
          if (chunk.length === 1) next.push(chunk[0]);
          else {
            const sum = addN({ ...args, inputs: chunk as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
            partials.push(sum);
            next.push(sum);
          }
        }
        inputs = next;
      }
      const out = addN({ ...args, inputs: inputs as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
      for (const t of partials) be.disposeData(t.dataId);
      return out;
    },
  } as tf.KernelConfig);
}
