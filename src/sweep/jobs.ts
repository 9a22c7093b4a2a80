import path from 'node:path';
import PQueue from 'p-queue';
import { cpuCores } from '../engine/backend.ts';
import { MAX_WASM_THREADS } from '../engine/backends/wasm.ts';
import { makeDirs, writeJsonAtomic } from '../io/atomic.ts';
import { emptyRunDir, isFinished } from '../io/rundir.ts';
import { lockHolderElsewhere, withRunLockSync } from '../io/run-lock.ts';
import type { PruneConfig } from '../prune/config.ts';
import { createProgress, type Progress } from '../util/progress.ts';
import { WorkerPool } from './pool.ts';

/**
 * One prune job of `pipeline sweep` or stage 3 of `pipeline run`: its directory `<dir>/<name>` holds
 * `job.json` (the config), then what `pipeline prune` writes, `DONE` last.
 */
export interface PruneJob {
  name: string;
  config: PruneConfig;
}

export interface PoolShape {
  /** Worker processes. */
  jobs: number;
  /** Threads per worker. */
  threads: number;
  /** Set when the user asked for more threads in all than the machine has cores. */
  note?: string;
}

/**
 * Worker processes × threads each. Unset ones are chosen so that jobs × threads = cores (jobs at most
 * the jobs pending): --jobs alone gets cores ÷ jobs threads (at most the wasm pool's), --threads alone
 * cores ÷ threads jobs. Both given are taken as they are, with a note if they oversubscribe the cores.
 */
export function resolvePool(opts: { jobs?: number; threads?: number; pending: number; cores?: number }): PoolShape {
  const cores = opts.cores ?? cpuCores();
  const cap = (n: number) => Math.max(1, Math.min(n, opts.pending));
  if (opts.jobs !== undefined && opts.threads !== undefined) {
    const note =
      opts.jobs * opts.threads > cores
        ? `--jobs ${opts.jobs} × --threads ${opts.threads} = ${opts.jobs * opts.threads} threads on ${cores} cores: jobs will compete for cores`
        : undefined;
    return { jobs: cap(opts.jobs), threads: opts.threads, note };
  }
  if (opts.threads !== undefined) return { jobs: cap(Math.floor(cores / opts.threads)), threads: opts.threads };
  const jobs = cap(opts.jobs ?? cores);
  return { jobs, threads: Math.max(1, Math.min(MAX_WASM_THREADS, Math.floor(cores / jobs))) };
}

export interface JobRunOptions {
  /** Parent directory of the job directories. */
  dir: string;
  /** The sweep's or run's --out, written into each job.json: the job's identity names inputs inside it relative to it. */
  root: string;
  /** --jobs and --threads as given (undefined: chosen by resolvePool). */
  jobs?: number;
  threads?: number;
  backend: string;
  /** Recompute finished jobs. */
  force: boolean;
  /** Progress label. */
  label: string;
  /** Progress only on an interactive terminal (quiet in logs and CI). */
  progressTtyOnly?: boolean;
  /** Called once the pool's shape is known (before any job runs), e.g. to print the note. */
  onPool?: (shape: PoolShape) => void;
  /** Called as each job ends, in completion order; `progress.log` prints without breaking the bar. */
  onJob?: (job: PruneJob, outcome: JobOutcome, progress: Progress) => void;
}

export interface JobOutcome {
  dir: string;
  /** Finished before this run. */
  skipped: boolean;
  error: string | null;
  /** 1-based count of jobs ended so far (skipped ones first). */
  done: number;
  total: number;
}

export interface JobRunSummary {
  ran: number;
  skipped: number;
  failed: Array<{ name: string; error: string }>;
  /** The pool that ran the pending jobs (jobs 0 when nothing was pending). */
  pool: PoolShape;
}

/** Some jobs failed (the others finished and are kept: a rerun retries only the failed ones). */
export class JobsFailedError extends Error {
  override name = 'JobsFailedError';
  constructor(
    readonly failed: Array<{ name: string; error: string }>,
    total: number,
  ) {
    super(`${failed.length} of ${total} prune jobs failed; rerun to retry them (finished jobs are kept)`);
  }
}

/** How often a job running in another process is checked for its end. */
const ELSEWHERE_POLL_MS = 1000;

/**
 * Runs prune jobs on a pool of worker processes: finished ones (a DONE marker) are skipped unless
 * `force`, the rest are written as `<dir>/<name>/job.json` and queued. Failures are collected, not thrown.
 */
export async function runJobs(list: PruneJob[], opts: JobRunOptions): Promise<JobRunSummary> {
  makeDirs(opts.dir);
  const pending = list.filter((j) => opts.force || !isFinished(path.join(opts.dir, j.name)));
  const shape = resolvePool({ jobs: opts.jobs, threads: opts.threads, pending: pending.length });
  const pool = pending.length ? shape : { ...shape, jobs: 0 };
  const summary: JobRunSummary = { ran: 0, skipped: list.length - pending.length, failed: [], pool };
  opts.onPool?.(pool);
  const progress = createProgress({ total: list.length, label: opts.label, unit: 'job', ttyOnly: opts.progressTtyOnly, initial: list.length - pending.length });
  let done = 0;
  const ended = (job: PruneJob, dir: string, skipped: boolean, error: string | null) => {
    done++;
    opts.onJob?.(job, { dir, skipped, error, done, total: list.length }, progress);
    progress.update(done, summary.failed.length ? { failed: summary.failed.length } : undefined);
  };
  for (const job of list) if (!pending.includes(job)) ended(job, path.join(opts.dir, job.name), true, null);
  const workers = pending.length ? new WorkerPool(pool.jobs, { backend: opts.backend, threads: pool.threads }) : undefined;
  try {
    const queue = new PQueue({ concurrency: Math.max(1, pool.jobs) });
    // Jobs another process is running (a second sweep or run on the same directory, another node of a
    // cluster): left to it, and run here only if it ends without finishing them.
    const elsewhere: Array<{ job: PruneJob; dir: string }> = [];
    const enqueue = (job: PruneJob, dir: string) =>
      void queue.add(async () => {
        if (!opts.force && lockHolderElsewhere(dir)) return void elsewhere.push({ job, dir });
        const { error, skipped } = await workers!.run(path.join(dir, 'job.json'));
        // Taken by another process between the check and the worker's lock: its job now.
        if (error && /is in use by/.test(error) && lockHolderElsewhere(dir)) return void elsewhere.push({ job, dir });
        if (error) summary.failed.push({ name: job.name, error });
        else if (skipped)
          summary.skipped++; // finished by another process while this one waited for its lock
        else summary.ran++;
        ended(job, dir, skipped, error);
      });
    for (const job of pending) {
      const dir = path.join(opts.dir, job.name);
      // Emptied under the job's lock, so a job another process is running is never pulled from under it.
      if (opts.force) withRunLockSync(dir, () => emptyRunDir(dir));
      makeDirs(dir);
      if (!lockHolderElsewhere(dir)) writeJsonAtomic(path.join(dir, 'job.json'), { config: job.config, root: opts.root });
      enqueue(job, dir);
    }
    await queue.onIdle();
    while (elsewhere.length) {
      const waiting = elsewhere.splice(0);
      while (waiting.some(({ dir }) => lockHolderElsewhere(dir))) await new Promise((r) => setTimeout(r, ELSEWHERE_POLL_MS));
      for (const { job, dir } of waiting) {
        if (isFinished(dir)) {
          summary.skipped++;
          ended(job, dir, true, null);
        } else {
          writeJsonAtomic(path.join(dir, 'job.json'), { config: job.config, root: opts.root });
          enqueue(job, dir);
        }
      }
      await queue.onIdle();
    }
  } finally {
    workers?.close();
    progress.stop();
  }
  return summary;
}
