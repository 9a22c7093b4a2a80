import * as tf from '@tensorflow/tfjs';
import { countWebGpu, type WebGpuCounters, webGpuCounters } from '../engine/backends/webgpu-counters.ts';

/** GPU work and host time of one run of a workload (webgpu). */
export interface StepCounters extends WebGpuCounters {
  workload: string;
  wall_ms: number;
}

/**
 * Runs `fn` once with the webgpu backend's counters on and returns what it asked of the GPU; call it
 * after a warm-up so pipelines are compiled and the buffer pool is filled (steady state).
 */
export async function countStep(workload: string, fn: () => Promise<unknown>): Promise<StepCounters> {
  countWebGpu(tf.backend());
  const before = webGpuCounters()!;
  const t0 = performance.now();
  await fn();
  const wall = performance.now() - t0;
  const after = webGpuCounters()!;
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    workload,
    dispatches: after.dispatches - before.dispatches,
    submits: after.submits - before.submits,
    buffers_created: after.buffers_created - before.buffers_created,
    bytes_created: after.bytes_created - before.bytes_created,
    record_ms: round(after.record_ms - before.record_ms),
    submit_ms: round(after.submit_ms - before.submit_ms),
    wall_ms: round(wall),
  };
}
