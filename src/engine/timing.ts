import * as tf from '@tensorflow/tfjs';

/** Warm-up: at least this many runs, and until this much time has passed. */
const WARMUP_RUNS = 2;
const WARMUP_MS = 1500;

/**
 * Median wall time of `fn` over `repeat` runs after a warm-up (kernel setup, XNNPACK operators, shader
 * compilation, and V8's optimizing compilers, which run on background threads: resnet18 w16 train steps
 * of a fresh process at 2 threads took 251 194 170 177 165 162 153 … ms, the compilers sharing the
 * cores with the kernels for the first second; at 1 thread 408 257 252 247 … 240). `fn` must end by
 * awaiting its result on the host (see settle), so queued GPU work is inside the timing.
 */
export async function medianMs(fn: () => unknown, repeat: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < WARMUP_RUNS || performance.now() - start < WARMUP_MS; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const mid = Math.floor(times.length / 2);
  const median = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
  return Math.round(median * 100) / 100;
}

/**
 * Waits until `t` is computed by reading one element of it, then frees it. Reading a whole
 * activation back would add the transfer to the timing (milliseconds for 33 MB on a GPU).
 */
export async function settle(t: tf.Tensor): Promise<void> {
  const one = tf.tidy(() => tf.slice(tf.reshape(t, [-1]), 0, 1));
  await one.data();
  tf.dispose([one, t]);
}

export interface KernelProfile {
  workload: string;
  /** Sum of kernel times, ms (null where the backend cannot time kernels). */
  total_ms: number | null;
  /** Per kernel name: [total ms, calls], largest first. */
  kernels: Record<string, [number | null, number]>;
}

/** Per-kernel times of one run of `fn` (tf.profile: wasm/cpu wall time per kernel, webgpu timestamp queries). */
export async function profileKernels(workload: string, fn: () => Promise<unknown>): Promise<KernelProfile> {
  const info = await tf.profile(async () => {
    await fn();
    return [];
  });
  const by = new Map<string, [number | null, number]>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : null;
    const [sum, calls] = by.get(k.name) ?? [0, 0];
    by.set(k.name, [sum === null || ms === null ? null : sum + ms, calls + 1]);
  }
  const sorted = [...by].sort((a, b) => (b[1][0] ?? 0) - (a[1][0] ?? 0));
  const round = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);
  const total = sorted.every(([, [ms]]) => ms !== null) ? sorted.reduce((s, [, [ms]]) => s + (ms ?? 0), 0) : null;
  return { workload, total_ms: round(total), kernels: Object.fromEntries(sorted.map(([n, [ms, calls]]) => [n, [round(ms), calls]])) };
}
