import type * as tf from '@tensorflow/tfjs';

/** What tfjs's webgpu backend asked of the GPU since counting began. */
export interface WebGpuCounters {
  /** Compute dispatches (one per kernel launch). */
  dispatches: number;
  /** Command buffers submitted to the queue. */
  submits: number;
  /** GPUDevice.createBuffer calls: buffers the pool could not reuse (outputs, uniforms, staging). */
  buffers_created: number;
  bytes_created: number;
  /** Host time inside the launches: tfjs's uniforms, bind groups and command encoding, ms. */
  record_ms: number;
  /** Host time inside queue submissions, ms (on a software driver this can include executing the work). */
  submit_ms: number;
}

interface CountedBackend {
  recordAndSubmit: (...args: unknown[]) => unknown;
  submitQueue: () => unknown;
  device: GPUDevice;
}

let counters: WebGpuCounters | undefined;

/**
 * Counts dispatches, submissions and buffer creations of the current webgpu backend from now on, by
 * wrapping the three backend/device methods every one of them goes through (tfjs-backend-webgpu 4.22:
 * every program launch is one recordAndSubmit, every buffer one device.createBuffer). Idempotent.
 */
export function countWebGpu(backend: tf.KernelBackend): void {
  if (counters) return;
  const b = backend as unknown as CountedBackend;
  if (typeof b.recordAndSubmit !== 'function' || typeof b.submitQueue !== 'function' || !b.device) {
    throw new Error('countWebGpu: not a tfjs webgpu backend (recordAndSubmit/submitQueue/device missing)');
  }
  const c: WebGpuCounters = { dispatches: 0, submits: 0, buffers_created: 0, bytes_created: 0, record_ms: 0, submit_ms: 0 };
  let inRecord = false;
  const record = b.recordAndSubmit.bind(b);
  b.recordAndSubmit = (...args: unknown[]) => {
    c.dispatches++;
    const t = performance.now();
    inRecord = true;
    try {
      return record(...args);
    } finally {
      inRecord = false;
      c.record_ms += performance.now() - t;
    }
  };
  const submit = b.submitQueue.bind(b);
  b.submitQueue = () => {
    c.submits++;
    const t = performance.now();
    try {
      return submit();
    } finally {
      // A launch that fills the batch submits from inside recordAndSubmit: count that time once, as submission.
      const ms = performance.now() - t;
      c.submit_ms += ms;
      if (inRecord) c.record_ms -= ms;
    }
  };
  const device = b.device;
  const create = device.createBuffer.bind(device);
  device.createBuffer = (descriptor: GPUBufferDescriptor) => {
    c.buffers_created++;
    c.bytes_created += descriptor.size;
    return create(descriptor);
  };
  counters = c;
}

/** A copy of the counters, or undefined before countWebGpu. */
export function webGpuCounters(): WebGpuCounters | undefined {
  return counters && { ...counters };
}

/** Forgets the counters (the backend they wrapped was stopped). */
export function resetWebGpuCounters(): void {
  counters = undefined;
}
