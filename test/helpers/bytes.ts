import fs from 'node:fs';
import { expect } from 'vitest';

/**
 * Expects two files to hold the same bytes. Compared natively, with the first differing offset on a
 * mismatch: vitest's toEqual walks a Buffer element by element (~4.5 s per MB here), long enough on a busy
 * machine to block a worker past its 60 s RPC timeout.
 */
export function expectSameFile(actual: string, expected: string): void {
  const a = fs.readFileSync(actual);
  const b = fs.readFileSync(expected);
  if (a.equals(b)) return;
  let i = 0;
  while (i < Math.min(a.length, b.length) && a[i] === b[i]) i++;
  expect.fail(`${actual} (${a.length} bytes) differs from ${expected} (${b.length} bytes) first at byte ${i}`);
}
