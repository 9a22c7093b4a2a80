// @ts-check
/**
 * The protocol of the wasm kernel pool (wasm-pool.ts), shared by the main thread and its workers
 * (wasm-pool-worker.mjs): plain JavaScript so that a worker thread loads it as it is, type-checked
 * through JSDoc.
 */

// Control words: the claim word (call number << 7 | blocks claimed), the block count, blocks finished,
// the number of the last call a block of which threw, how long a waiting thread polls before it
// sleeps (µs; the main thread sets it), the block bounds (MAX_BLOCKS + 1); then per
// worker a slot: call number to serve (main → worker), last call served (worker → main), export index,
// argument count and the arguments.
export const CLAIM = 0;
export const BLOCKS = 1;
export const FINISHED = 2;
export const FAILED = 3;
export const POLL_US = 4;
export const BOUNDS = 5;
export const MAX_BLOCKS = 64; // < 128: the claimed count fits below the call number in CLAIM
/** A claimed count above any block count: no block of the call can be claimed yet. */
export const CLOSED = 127;
export const SLOTS = BOUNDS + MAX_BLOCKS + 1;
export const SEQ = 0;
export const SERVED = 1;
export const FN = 2;
export const ARGC = 3;
export const ARGS = 4;
export const MAX_ARGS = 32;
export const STRIDE = ARGS + MAX_ARGS;
/**
 * Claims blocks of call `call` until none are left or another call has begun, running `fn` on each
 * (a block's [from, to) last). A claim is a compare-and-swap on the word holding the call number
 * and the claimed count, so a thread that wakes late can never take a block of a later call. Each
 * finished block is counted (and a throw recorded) so the caller knows when all are done. A call's
 * count and bounds are written only while the claim word says CLOSED (see run), so a thread that read
 * the word of an earlier call, and then the count of the next, fails its compare-and-swap.
 */
/**
 * @param {Int32Array} ctl
 * @param {number} call
 * @param {(...a: number[]) => void} fn
 * @param {number[]} args
 * @param {Uint8Array} message
 */
export function claimBlocks(ctl, call, fn, args, message) {
  for (;;) {
    const c = Atomics.load(ctl, CLAIM);
    const b = c & 127;
    if (c >>> 7 !== call || b >= Atomics.load(ctl, BLOCKS)) return;
    if (Atomics.compareExchange(ctl, CLAIM, c, c + 1) !== c) continue;
    try {
      fn(...args, Atomics.load(ctl, BOUNDS + b), Atomics.load(ctl, BOUNDS + b + 1));
    } catch (err) {
      const last = Atomics.load(ctl, FAILED);
      if (last !== call && Atomics.compareExchange(ctl, FAILED, last, call) === last) {
        const text = new TextEncoder().encode(String((err instanceof Error && err.message) || err)).subarray(0, message.length);
        message.fill(0);
        message.set(text);
      }
    }
    Atomics.add(ctl, FINISHED, 1);
    Atomics.notify(ctl, FINISHED);
  }
}

/**
 * Returns once word `i` is no longer `v`: polls until `until` (performance.now() ms; the clock read
 * every 64 polls, as a read per poll allocated), then sleeps on the word (whose writers notify).
 */
/**
 * @param {Int32Array} ctl
 * @param {number} i
 * @param {number} v
 * @param {number} until
 */
export function waitWhile(ctl, i, v, until) {
  for (let polls = 1; Atomics.load(ctl, i) === v; polls++) {
    if (polls % 64 === 0 && performance.now() >= until) {
      Atomics.wait(ctl, i, v);
      return;
    }
  }
}
