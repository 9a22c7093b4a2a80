import type * as tf from '@tensorflow/tfjs';

/** The parts of tfjs-webgpu 4.22's backend this patch touches. */
interface WebGpuInternals {
  device: GPUDevice;
  tensorMap: { get(dataId: object): { resource: GPUBuffer | null; values: ArrayLike<number> | null; dtype: tf.DataType; shape: number[] } };
  bufferManager: { acquireBuffer(size: number, usage: number): GPUBuffer };
  uploadToGPU(dataId: object): void;
}

/** Host values up to this many bytes are written with queue.writeBuffer. */
const SMALL_UPLOAD_BYTES = 64 * 1024;

/**
 * tfjs-webgpu uploads every host tensor through a fresh mapped staging buffer (created, then
 * destroyed) and a copy that also ends the current compute pass. Scalars from JS numbers (learning
 * rates, ε, 1/M, …) are uploaded that way on every op, and a CPU profile of a resnet18 train step on
 * an H200 spent the largest share of its time in createBuffer. Small uploads instead go through
 * queue.writeBuffer into a pooled buffer: no new buffer, no pass break. The order stays right: the
 * write is queued before the command buffer that reads it is submitted, and a pooled buffer returns
 * to the pool only after the commands that used it were submitted. PIPELINE_WEBGPU_SMALL_UPLOADS=0
 * turns this off (for comparisons).
 */
export function useQueuedSmallUploads(backend: tf.KernelBackend): void {
  if (process.env.PIPELINE_WEBGPU_SMALL_UPLOADS === '0') return;
  const be = backend as unknown as WebGpuInternals;
  if (typeof be.uploadToGPU !== 'function' || !be.tensorMap || !be.bufferManager) return; // internals changed: keep tfjs's path
  const upload = be.uploadToGPU.bind(be);
  be.uploadToGPU = (dataId: object) => {
    const data = be.tensorMap.get(dataId);
    if (data.resource == null && data.values != null && (data.dtype === 'float32' || data.dtype === 'int32' || data.dtype === 'bool')) {
      const bytes = 4 * data.values.length;
      if (bytes > 0 && bytes <= SMALL_UPLOAD_BYTES) {
        const buffer = be.bufferManager.acquireBuffer(bytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
        const typed = data.dtype === 'float32' ? Float32Array.from(data.values) : Int32Array.from(data.values);
        be.device.queue.writeBuffer(buffer, 0, typed);
        data.values = null;
        data.resource = buffer;
        return;
      }
    }
    upload(dataId);
  };
}
