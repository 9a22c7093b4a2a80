/**
 * One writer per run directory. `<dir>/LOCK` is created atomically (open with O_EXCL) and holds the
 * holder's pid, host and start time. A second writer is refused with one line naming the holder
 * (exit 2); a lock whose holder is dead on this host is taken over with a note on stderr (a killed run
 * is rerun without ceremony). Locks are released at exit and on SIGINT/SIGTERM/SIGHUP; a SIGKILLed
 * holder leaves its lock behind, which the next run takes over — on another node of a shared filesystem
 * too, when the holder ran as a Slurm job that has ended. Re-entrant within one process.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../util/errors.ts';
import { makeDirs, removeStaleTempFiles } from './atomic.ts';

export const LOCK_FILE = 'LOCK';

export interface LockHolder {
  pid: number;
  host: string;
  started: string;
  /** The Slurm job (SLURM_JOB_ID) the holder ran in, if any: how a lock left on another node is known dead. */
  slurmJob?: string;
}

export interface LockOptions {
  /** Keep retrying a lock held by a live process this long (ms) before refusing, e.g. for a worker of a killed run that is exiting. */
  waitMs?: number;
  /** Where the takeover note goes (default stderr). */
  note?: (line: string) => void;
}

/** Locks this process holds; `created`: the directory did not exist before (removed again if left empty). */
const held = new Map<string, { count: number; file: string; created: boolean }>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Whether `pid` is a live process on this host (a zombie counts as dead). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc (not Linux): kill(0) said it exists
  }
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const h = JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder;
    return Number.isInteger(h.pid) && typeof h.host === 'string' ? h : undefined;
  } catch {
    return undefined; // gone, or being written this instant
  }
}

function describe(h: LockHolder | undefined): string {
  return h ? `process ${h.pid} on ${h.host} (since ${h.started})` : 'another process';
}

function tryCreate(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    const slurmJob = process.env.SLURM_JOB_ID || undefined;
    fs.writeSync(fd, `${JSON.stringify({ pid: process.pid, host: os.hostname(), started: new Date().toISOString(), slurmJob } satisfies LockHolder)}\n`);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/**
 * Replaces the lock of a dead holder. Under a second exclusive file (`LOCK.takeover`) so that two
 * processes finding the same dead holder cannot both win; it re-reads the lock under that guard.
 */
function takeOver(file: string, dead: LockHolder, note: (line: string) => void): boolean {
  const guard = `${file}.takeover`;
  try {
    fs.closeSync(fs.openSync(guard, 'wx'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Another process is taking over now, or one died doing so (its guard is older than a few seconds).
    try {
      if (Date.now() - fs.statSync(guard).mtimeMs > 10_000) fs.rmSync(guard, { force: true });
    } catch {
      // gone meanwhile
    }
    return false;
  }
  try {
    const now = readHolder(file);
    if (!now || now.pid !== dead.pid || now.host !== dead.host || now.started !== dead.started) return false;
    fs.rmSync(file, { force: true });
    if (!tryCreate(file)) return false;
    note(`note: ${path.dirname(file)} was locked by ${describe(dead)}, which is no longer running; taking it over`);
    return true;
  } finally {
    fs.rmSync(guard, { force: true });
  }
}

/**
 * Whether a holder on another host is known to be gone: its Slurm job has left the queue (squeue knows
 * it no longer, or lists it in a final state). Without a Slurm job or without squeue: not known.
 */
export function slurmHolderEnded(holder: LockHolder): boolean {
  if (!holder.slurmJob) return false;
  const r = spawnSync('squeue', ['-h', '-o', '%T', '-j', holder.slurmJob], { encoding: 'utf8' });
  if (r.error) return false;
  if (r.status !== 0) return /Invalid job id/i.test(r.stderr);
  const state = r.stdout.trim();
  return state === '' || /^(COMPLETED|CANCELLED|FAILED|TIMEOUT|PREEMPTED|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE)/.test(state);
}

/** A holder that is certainly not running: a dead pid on this host, or an ended Slurm job on another. */
const holderDead = (h: LockHolder) => (h.host === os.hostname() ? h.pid !== process.pid && !processAlive(h.pid) : slurmHolderEnded(h));

/**
 * The holder of `dir`'s lock when it is another live process (on this host: checked; on another host
 * sharing the filesystem: assumed alive), else undefined.
 */
export function lockHolderElsewhere(dir: string): LockHolder | undefined {
  const holder = readHolder(path.join(dir, LOCK_FILE));
  if (!holder) return undefined;
  if (holder.host !== os.hostname()) return slurmHolderEnded(holder) ? undefined : holder;
  return holder.pid !== process.pid && processAlive(holder.pid) ? holder : undefined;
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Takes the lock of `dir` (creating the directory), removes temporary files left there by killed
 * writes, and returns its release. Throws a UsageError naming the holder when a live process holds it.
 */
export function lockRunDir(dir: string, opts: LockOptions = {}): () => void {
  const key = path.resolve(dir);
  const mine = held.get(key);
  if (mine) {
    mine.count++;
    return once(() => release(key));
  }
  const created = !fs.existsSync(dir);
  makeDirs(dir);
  const file = path.join(dir, LOCK_FILE);
  const note = opts.note ?? ((line: string) => process.stderr.write(`pipeline: ${line}\n`));
  const deadline = Date.now() + (opts.waitMs ?? 0);
  for (;;) {
    if (tryCreate(file)) break;
    const holder = readHolder(file);
    if (holder && holderDead(holder)) {
      if (takeOver(file, holder, note)) break;
    } else if (holder && holder.host === os.hostname() && holder.pid === process.pid) {
      // Left by this very process (a lock not released after an error): ours again.
      fs.rmSync(file, { force: true });
      continue;
    } else if (Date.now() >= deadline) {
      throw new UsageError(
        `${dir} is in use by ${describe(holder)}: wait for it to finish or stop it` +
          (holder && holder.host === os.hostname() ? ` (kill ${holder.pid})` : `; if it is dead, remove ${file}`),
      );
    }
    sleep(100);
  }
  if (held.size === 0) installHandlers();
  held.set(key, { count: 1, file, created });
  removeStaleTempFiles(dir);
  return once(() => release(key));
}

/** Runs `fn` holding the lock of `dir`. */
export async function withRunLock<T>(dir: string, fn: () => Promise<T> | T, opts: LockOptions = {}): Promise<T> {
  const release = lockRunDir(dir, opts);
  try {
    return await fn();
  } finally {
    release();
  }
}

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      f();
    }
  };
}

function release(key: string): void {
  const h = held.get(key);
  if (!h || --h.count > 0) return;
  held.delete(key);
  unlinkIfMine(h.file);
  if (h.created) removeIfEmpty(path.dirname(h.file));
  if (held.size === 0) removeHandlers();
}

function unlinkIfMine(file: string): void {
  const holder = readHolder(file);
  if (holder && holder.pid === process.pid && holder.host === os.hostname()) fs.rmSync(file, { force: true });
}

/** A directory this lock created and nothing was written to (the run stopped on bad input). */
function removeIfEmpty(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // not empty (or gone): keep it
  }
}

function releaseAll(): void {
  for (const h of held.values()) {
    try {
      unlinkIfMine(h.file);
      if (h.created) removeIfEmpty(path.dirname(h.file));
    } catch {
      // best effort at exit
    }
  }
  held.clear();
}

const onExit = (): void => releaseAll();
/** Releases every lock, then dies of the same signal (as if nobody had listened for it). */
const onSignal = (signal: NodeJS.Signals): void => {
  releaseAll();
  removeHandlers();
  process.kill(process.pid, signal);
};

function installHandlers(): void {
  process.on('exit', onExit);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function removeHandlers(): void {
  process.off('exit', onExit);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/** Runs synchronous `fn` holding the lock of `dir`. */
export function withRunLockSync<T>(dir: string, fn: () => T, opts: LockOptions = {}): T {
  const release = lockRunDir(dir, opts);
  try {
    return fn();
  } finally {
    release();
  }
}
