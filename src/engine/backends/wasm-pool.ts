import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { CpuContention } from './cpu-contention.ts';
import {
  ARGC,
  ARGS,
  BLOCKS,
  BOUNDS,
  CLAIM,
  claimBlocks,
  CLOSED,
  FAILED,
  FINISHED,
  FN,
  MAX_ARGS,
  MAX_BLOCKS,
  SEQ,
  SERVED,
  SLOTS,
  STRIDE,
  waitWhile,
  POLL_US,
} from './wasm-pool-protocol.mjs';

/**
 * The project's own SIMD kernels (WebAssembly text, assembled at build time) run on tfjs-wasm's
 * heap: they import its memory, so they read and write tensors in place, and, when that memory is
 * shared (the threaded build), worker threads run them too. A call cuts a range of work items (the
 * export's last two parameters, [from, to)) into blocks that the threads claim one at a time, so a
 * thread slowed by another process (or by XNNPACK's pool still spinning) takes fewer of them. Each
 * kernel computes every output element within one item, so results do not depend on who ran what.
 */

/** Call numbers wrap here so that call << 7 stays a positive int32. */
const CALL_MASK = 0x7fffff;
/**
 * Blocks per thread: enough to even out a slowed thread (resnet18 w16 train step, 2 threads: the
 * main thread waited 5 ms per step for the last block at 16, 7 ms at 4).
 */
const BLOCKS_PER_THREAD = 16;
/**
 * How long a thread polls before it sleeps: a helper after its last block, waiting for the next call;
 * the main thread waiting for a helper's last block. On this VM a sleeping thread takes ~50 µs to
 * wake once its core has been idle ~1 ms (11 µs after 50 µs), about a batch-norm pass at 2 threads
 * and a block of every convolution. Polling 2 ms covers the gaps between kernels of a step (resnet18
 * w16 at 2 threads, interleaved in one process: train step median 162 → 144 ms, GraSP Hg 766 → 703
 * ms). Only while every thread has a core of its own: with more threads than cores (see start), or
 * while other processes keep the cores busy (CpuContention), a thread polling a shared core takes it
 * from the one it waits for, and threads sleep at once (resnet18 w16 batch 32 at 2 threads beside two
 * busy processes on 2 cores: train step 484 / 521 ms polling, 462 / 492 ms sleeping, two passes; GraSP
 * Hg 2,060 / 2,097 → 1,894 / 1,461 ms; docs/engine.md).
 */
const SPIN_MS = 2;

/** Bytes kept of the first failing block's error message (a trap's: 'unreachable', 'memory access out of bounds'). */
const MESSAGE_BYTES = 256;

export class WasmKernelPool {
  private call = 0;

  private constructor(
    readonly memory: WebAssembly.Memory,
    private readonly exports: Record<string, (...args: number[]) => void>,
    private readonly names: string[],
    private readonly workers: Worker[],
    private readonly control: Int32Array,
    private readonly message: Uint8Array,
    private readonly spinMs: number,
    private readonly contention = new CpuContention(),
  ) {}

  /** Threads that run a call (this one included). */
  get threads(): number {
    return this.workers.length + 1;
  }

  /**
   * Compiles the kernels' binary for this memory (`binary(shared)`: with a shared memory import when
   * `memory` is shared) and starts `threads − 1` workers; resolves once all are running.
   */
  static async start(memory: WebAssembly.Memory, binary: (shared: boolean) => Promise<Uint8Array<ArrayBuffer>>, threads: number): Promise<WasmKernelPool> {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const module = new WebAssembly.Module(await binary(shared));
    const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as Record<string, (...args: number[]) => void>;
    const names = Object.keys(exports);
    const count = shared ? Math.max(0, threads - 1) : 0;
    const bytes = (SLOTS + count * STRIDE) * 4;
    const control = new Int32Array(count > 0 ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
    const message = new Uint8Array(count > 0 ? new SharedArrayBuffer(MESSAGE_BYTES) : new ArrayBuffer(MESSAGE_BYTES));
    const spinMs = count + 1 <= os.availableParallelism() ? SPIN_MS : 0;
    const workers: Worker[] = [];
    try {
      for (let slot = 0; slot < count; slot++) {
        const worker = new Worker(new URL('./wasm-pool-worker.mjs', import.meta.url), {
          workerData: { module, memory, control: control.buffer, messages: message.buffer, slot, names },
        });
        workers.push(worker);
      }
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve, reject) => {
              w.once('online', () => resolve());
              w.once('error', reject);
            }),
        ),
      );
    } catch (err) {
      for (const w of workers) void w.terminate();
      throw err;
    }
    for (const w of workers) w.unref(); // idle workers never keep a finished process alive
    return new WasmKernelPool(memory, exports, names, workers, control, message, spinMs);
  }

  /**
   * Calls export `name` with `args` followed by [from, to) for blocks covering [0, items), spread over
   * the threads, and returns when all are done. A block holds `minPerBlock` items or more. The main
   * thread claims blocks too and waits only for blocks that a helper has begun: a helper that wakes
   * late (its core busy) finds none left, and one still busy with an earlier call is not woken.
   */
  run(name: string, args: number[], items: number, minPerBlock = 1): void {
    const fn = this.exports[name];
    if (fn === undefined) throw new Error(`wasm kernel pool: no export '${name}'`);
    if (args.length + 2 > MAX_ARGS) throw new Error(`wasm kernel pool: '${name}' takes at most ${MAX_ARGS - 2} arguments`);
    const blocks = Math.max(1, Math.min(MAX_BLOCKS, this.threads * BLOCKS_PER_THREAD, Math.floor(items / Math.max(1, minPerBlock))));
    const control = this.control;
    this.call = (this.call % CALL_MASK) + 1;
    const call = this.call;
    // Closed first: a helper still in the last call's claim loop may have read that call's claim word
    // (every block claimed) and be about to read the block count; with the word changed, its
    // compare-and-swap fails whatever count it reads (without this, it claimed a block past the last
    // one and ran the last call's kernel over this call's bounds: 1 in 10 back-to-back pairs here).
    Atomics.store(control, CLAIM, (call << 7) | CLOSED);
    for (let b = 0; b <= blocks; b++) Atomics.store(control, BOUNDS + b, Math.floor((items * b) / blocks));
    Atomics.store(control, BLOCKS, blocks);
    Atomics.store(control, FINISHED, 0);
    Atomics.store(control, FAILED, 0); // call numbers start at 1: a failure before a wrap-around cannot match
    Atomics.store(control, CLAIM, call << 7);
    let helpers = Math.min(this.workers.length, blocks - 1);
    for (let w = 0; w < this.workers.length && helpers > 0; w++) {
      const base = SLOTS + w * STRIDE;
      if (Atomics.load(control, base + SERVED) !== control[base + SEQ]) continue; // still on an earlier call
      control[base + FN] = this.names.indexOf(name);
      control[base + ARGC] = args.length;
      control.set(args, base + ARGS);
      Atomics.store(control, base + SEQ, call);
      Atomics.notify(control, base + SEQ);
      helpers--;
    }
    claimBlocks(control, call, fn, args, this.message);
    const now = performance.now();
    const pollMs = this.pollMs(now);
    const until = now + pollMs;
    for (;;) {
      const finished = Atomics.load(control, FINISHED);
      if (finished >= blocks) break;
      waitWhile(control, FINISHED, finished, until);
    }
    if (Atomics.load(control, FAILED) === call) {
      throw new Error(`wasm kernel '${name}' failed: ${new TextDecoder().decode(this.message.slice()).replace(/\0+$/, '')}`);
    }
  }

  /** How long threads poll now: SPIN_MS while the cores are ours, else 0; published for the helpers. */
  private pollMs(now: number): number {
    const ms = this.workers.length > 0 && this.spinMs > 0 && !this.contention.contended(now) ? this.spinMs : 0;
    if (Atomics.load(this.control, POLL_US) !== ms * 1000) Atomics.store(this.control, POLL_US, ms * 1000);
    return ms;
  }

  /** Ends the workers (they also end with the process, being unref'd). */
  stop(): void {
    const control = this.control;
    this.workers.forEach((w, slot) => {
      Atomics.store(control, SLOTS + slot * STRIDE + SEQ, -1);
      Atomics.notify(control, SLOTS + slot * STRIDE + SEQ);
    });
    this.workers.length = 0;
  }
}
