import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, expect } from 'vitest';
import { UsageError } from '../../src/util/errors.ts';

let root: string | undefined;

afterAll(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
  root = undefined;
});

/** A fresh directory under one per-test-file root that is removed after the file's tests. */
export function tempDir(prefix = 'dir-'): string {
  root ??= fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-data-test-'));
  return fs.mkdtempSync(path.join(root, prefix));
}

/** Asserts that fn throws a one-line UsageError whose message matches every pattern. */
export function expectUsageError(fn: () => unknown, ...patterns: RegExp[]): string {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  return checkUsageError(caught, patterns);
}

function checkUsageError(caught: unknown, patterns: RegExp[]): string {
  expect(caught).toBeInstanceOf(UsageError);
  const message = (caught as Error).message;
  expect(message).not.toContain('\n');
  for (const p of patterns) expect(message).toMatch(p);
  return message;
}

export async function expectUsageErrorAsync(fn: () => Promise<unknown>, ...patterns: RegExp[]): Promise<string> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  return checkUsageError(caught, patterns);
}

/** An IDX file: big-endian magic (0x0000 08 ndim), dims, then the unsigned bytes. */
export function idxBytes(dims: number[], values: ArrayLike<number>, magic = 0x0800 + dims.length): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(Array.from(values))]);
}

export function writeFile(dir: string, name: string, bytes: Uint8Array, gzip = false): void {
  fs.writeFileSync(path.join(dir, gzip ? `${name}.gz` : name), gzip ? gzipSync(bytes) : bytes);
}

/** A CIFAR record: label byte(s), then the R, G and B planes (each 32×32 row-major). */
export function cifarRecord(labels: number[], pixel: (channel: number, y: number, x: number) => number): Buffer {
  const out = Buffer.alloc(labels.length + 3 * 1024);
  labels.forEach((l, i) => (out[i] = l));
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) out[labels.length + c * 1024 + y * 32 + x] = pixel(c, y, x);
  }
  return out;
}
