import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { usage } from '../util/errors.ts';

/** Fails with a one-line usage error unless `dir` is an existing directory. */
export function requireDir(dir: string, what: string, fix: string): void {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) usage(`${what}: directory ${dir} not found; ${fix}`);
}

/** Reads `base` or `base.gz` (whichever exists, raw first), gunzipping when the gzip magic is present. */
export function readMaybeGzipped(dir: string, base: string, what: string, fix: string): { bytes: Uint8Array; file: string } {
  const raw = path.join(dir, base);
  const gz = `${raw}.gz`;
  const file = fs.existsSync(raw) ? raw : fs.existsSync(gz) ? gz : usage(`${what}: neither ${raw} nor ${gz} found; ${fix}`);
  const bytes = fs.readFileSync(file);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return { bytes: gunzipSync(bytes), file };
    } catch (err) {
      usage(`${what}: ${file} is a damaged gzip file (${(err as Error).message}); ${fix}`);
    }
  }
  return { bytes, file };
}

export function readRequired(file: string, what: string, fix: string): Uint8Array {
  if (!fs.existsSync(file)) usage(`${what}: ${file} not found; ${fix}`);
  return fs.readFileSync(file);
}

/** Checks that every label lies in [0, numClasses). */
export function checkLabelRange(labels: Int32Array, numClasses: number, what: string, file: string, fix: string): void {
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y < 0 || y >= numClasses) {
      usage(`${what}: ${file} record ${i} has label ${y}, outside 0..${numClasses - 1}; ${fix}`);
    }
  }
}
