// @ts-check
/**
 * A helper thread of the wasm kernel pool (wasm-pool.ts): instantiates the kernels on the shared heap,
 * then serves the calls its slot of the control words announces until told to stop (a negative call).
 */
import { workerData } from 'node:worker_threads';
import { ARGC, ARGS, claimBlocks, FN, POLL_US, SEQ, SERVED, SLOTS, STRIDE, waitWhile } from './wasm-pool-protocol.mjs';

/** @type {{ module: WebAssembly.Module, memory: WebAssembly.Memory, control: SharedArrayBuffer, messages: SharedArrayBuffer, slot: number, names: string[] }} */
const { module, memory, control, messages, slot, names } = workerData;
const message = new Uint8Array(messages);
const kernels = /** @type {Record<string, (...a: number[]) => void>} */ (new WebAssembly.Instance(module, { env: { memory } }).exports);
const ctl = new Int32Array(control);
const base = SLOTS + slot * STRIDE;
let seq = 0;
for (;;) {
  waitWhile(ctl, base + SEQ, seq, performance.now() + Atomics.load(ctl, POLL_US) / 1000);
  seq = Atomics.load(ctl, base + SEQ);
  if (seq < 0) break;
  const args = Array.from(ctl.subarray(base + ARGS, base + ARGS + ctl[base + ARGC]));
  claimBlocks(ctl, seq, kernels[names[ctl[base + FN]]], args, message);
  Atomics.store(ctl, base + SERVED, seq);
}
