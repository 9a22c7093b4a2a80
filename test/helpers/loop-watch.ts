/**
 * With LOOP_WATCH=<file>: appends {file, test, maxBlockMs} for each test (and each file, hooks included)
 * in which the worker's event loop was blocked longer than 2 s: vitest's worker RPC times out after 60 s
 * of blocking, which a busy machine can stretch a 20 s block into. A development aid:
 * `LOOP_WATCH=/tmp/w.jsonl npm test`.
 */
import fs from 'node:fs';
import { afterAll, afterEach, beforeEach, expect } from 'vitest';

const out = process.env.LOOP_WATCH;
if (out) {
  const TICK_MS = 100;
  let last = performance.now();
  let testMax = 0;
  let fileMax = 0;
  setInterval(() => {
    const now = performance.now();
    const gap = now - last - TICK_MS;
    last = now;
    testMax = Math.max(testMax, gap);
    fileMax = Math.max(fileMax, gap);
  }, TICK_MS).unref();
  const settle = () => new Promise((resolve) => setTimeout(resolve, 2 * TICK_MS)); // a block shows once the interval runs again
  const record = (test: string, ms: number) => {
    if (ms > 2000) fs.appendFileSync(out, `${JSON.stringify({ file: expect.getState().testPath, test, maxBlockMs: Math.round(ms) })}\n`);
  };
  beforeEach(() => {
    testMax = 0;
  });
  afterEach(async () => {
    await settle();
    record(expect.getState().currentTestName ?? '?', testMax);
  });
  afterAll(async () => {
    await settle();
    record('(whole file, hooks included)', fileMax);
  });
}
