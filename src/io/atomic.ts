import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { withPath } from '../util/errors.ts';

/**
 * mkdir -p without Node's recursive mkdir, which spins forever on some virtual filesystems
 * (`/proc/self/x`: each level fails with ENOENT and is retried): every missing level is created in
 * turn, and the first failure is thrown as it is.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** A temporary sibling of `path` (same directory, so the final rename stays on one filesystem). */
export function tempPathFor(path: string): string {
  return `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

const TEMP_NAME = /\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/**
 * Removes, under `dir` (recursively), the temporary files of writes whose process is gone (a killed
 * run's half-written files); those of live processes are left alone. Call it holding the directory's lock.
 */
export function removeStaleTempFiles(dir: string, alive: (pid: number) => boolean = pidAlive): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory()) removeStaleTempFiles(full, alive);
    else {
      const m = TEMP_NAME.exec(e.name);
      if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) rmSync(full, { force: true });
    }
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Moves a finished, fsynced temporary file over `path`; readers see the old file or the new one, never a part. */
export function commitTempFile(tempPath: string, path: string): void {
  renameSync(tempPath, path);
  syncDirectory(dirname(path));
}

/** Writes `data` to `path` atomically: temp file in the same directory, fsync, rename. Creates parent dirs. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  makeDirs(dirname(path));
  const tempPath = tempPathFor(path);
  try {
    const fd = openSync(tempPath, 'w');
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      for (let written = 0; written < bytes.byteLength;) {
        written += writeSync(fd, bytes, written, bytes.byteLength - written);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    commitTempFile(tempPath, path);
  } catch (err) {
    rmSync(tempPath, { force: true });
    throw withPath(err, path); // write/fsync on a descriptor fail without a path (ENOSPC, EIO)
  }
}

export async function writeFileAtomicAsync(path: string, data: string | Uint8Array): Promise<void> {
  makeDirs(dirname(path));
  const tempPath = tempPathFor(path);
  try {
    const handle = await open(tempPath, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tempPath, path);
    syncDirectory(dirname(path));
  } catch (err) {
    await rm(tempPath, { force: true });
    throw withPath(err, path);
  }
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Appends one JSON line (JSON Lines) to `path`, creating it and its parent dirs. A single append write,
 * so concurrent writers do not interleave within a line for lines of ordinary size.
 */
export function appendJsonLine(path: string, value: unknown): void {
  makeDirs(dirname(path));
  appendFileSync(path, `${JSON.stringify(value)}\n`);
}

/** Makes a rename durable across power loss; not possible on every platform (Windows), hence best-effort. */
function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best-effort
  }
}
