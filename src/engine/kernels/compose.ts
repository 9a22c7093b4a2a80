import * as tf from '@tensorflow/tfjs';

type Attrs = Record<string, unknown>;

type HeapBackend = tf.KernelBackend & {
  makeOutput?(shape: number[], dtype: tf.DataType, offset?: number, values?: Float32Array): tf.TensorInfo;
  typedArrayFromHeap?(info: tf.TensorInfo): Float32Array;
};

/**
 * Runs other kernels of the same backend from inside a kernel implementation (below the tape, so
 * nothing is recorded for autodiff) and frees every intermediate except the ones handed back.
 */
export class KernelComposer {
  private readonly temps: tf.TensorInfo[] = [];

  constructor(
    readonly backend: tf.KernelBackend,
    private readonly backendName: string,
  ) {}

  /**
   * A new uninitialized float32 tensor and a writable host view of it. Views of the wasm heap are
   * invalidated when the heap grows, so take all views after the last allocation.
   */
  alloc(shape: number[]): tf.TensorInfo {
    const be = this.backend as HeapBackend;
    // Only wasm's makeOutput has this signature (cpu's takes values first and returns a Tensor).
    const info =
      be.typedArrayFromHeap && be.makeOutput
        ? be.makeOutput(shape, 'float32')
        : { dataId: be.write(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape, 'float32'), shape, dtype: 'float32' as const };
    this.temps.push(info);
    return info;
  }

  /** Host view (wasm: of the heap, no copy; cpu: the backing array) of a float32 tensor. */
  view(info: tf.TensorInfo): Float32Array {
    const be = this.backend as HeapBackend;
    return (be.typedArrayFromHeap ? be.typedArrayFromHeap(info) : be.readSync(info.dataId)) as Float32Array;
  }

  /** Wraps host values as a backend tensor owned by this composer. */
  adopt({ shape, values }: { shape: number[]; values: Float32Array }): tf.TensorInfo {
    const be = this.backend as HeapBackend;
    const info =
      be.typedArrayFromHeap && be.makeOutput
        ? be.makeOutput(shape, 'float32', undefined, values)
        : { dataId: be.write(values, shape, 'float32'), shape, dtype: 'float32' as const };
    this.temps.push(info);
    return info;
  }

  run(kernelName: string, inputs: Record<string, tf.TensorInfo>, attrs: Attrs = {}): tf.TensorInfo {
    const kernel = tf.getKernel(kernelName, this.backendName);
    if (kernel === undefined) throw new Error(`kernel ${kernelName} is not registered for ${this.backendName}`);
    const out = kernel.kernelFunc({ inputs, backend: this.backend, attrs: attrs as tf.NamedAttrMap });
    const info = Array.isArray(out) ? out[0] : out;
    this.temps.push(info);
    return info;
  }

  /** Takes ownership of a tensor made outside run() (a backend program's output). */
  track(info: tf.TensorInfo): tf.TensorInfo {
    this.temps.push(info);
    return info;
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  pad(x: tf.TensorInfo, paddings: Array<[number, number]>): tf.TensorInfo {
    if (paddings.every(([a, b]) => a === 0 && b === 0)) return x;
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  slice(x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
    if (size.every((s, i) => s === x.shape[i]) && begin.every((b) => b === 0)) return x;
    return this.run('Slice', { x }, { begin, size });
  }

  /** Frees all intermediates except `keep`. */
  finish(keep: tf.TensorInfo): tf.TensorInfo {
    return this.finishAll([keep])[0];
  }

  /** Frees all intermediates except the outputs in `keep`. */
  finishAll(keep: tf.TensorInfo[]): tf.TensorInfo[] {
    const kept = new Set(keep.map((t) => t.dataId));
    const freed = new Set<object>();
    for (const t of this.temps) {
      if (kept.has(t.dataId) || freed.has(t.dataId)) continue;
      freed.add(t.dataId);
      this.backend.disposeData(t.dataId);
    }
    return keep;
  }
}
