import path from 'node:path';
import { makeDirs, writeJsonAtomic } from '../io/atomic.ts';
import { readPreset, recipeNotes } from '../train/config.ts';
import { planSweep } from './config.ts';
import { type PoolShape, runJobs } from './jobs.ts';
import { writeSweepReport } from './report.ts';
import { inShard } from './shard.ts';

export interface SweepOptions {
  out: string;
  /** Worker processes and threads per worker; unset ones are chosen by resolvePool. */
  jobs?: number;
  threads?: number;
  shard: { index: number; count: number };
  force: boolean;
  backend: string;
  /** Told the pool's shape before any job runs. */
  onPool?: (shape: PoolShape) => void;
}

export interface SweepSummary {
  total: number;
  inShard: number;
  ran: number;
  skipped: number;
  failed: Array<{ name: string; error: string }>;
  /** Jobs of this shard with no result after the run although none failed (a job directory deleted meanwhile). */
  missing: string[];
  /** The pool that ran this shard's pending jobs. */
  pool: PoolShape;
  seconds: number;
  /** trainRecipe's notes for the trained targets without a preset of their own. */
  notes: string[];
}

/**
 * `pipeline sweep`: the cross product of targets × criteria × densities × seeds, each job a
 * deterministic hashed directory under <out>/jobs, run by a pool of worker processes. Finished jobs
 * are never recomputed (unless --force), also when the config changed (the sweep grows in place);
 * --shard i/n runs every n-th job.
 */
export async function runSweep(file: string, opts: SweepOptions): Promise<SweepSummary> {
  const started = performance.now();
  const { sweep, jobs } = planSweep(readPreset(file), file, opts.out);
  const mine = jobs.filter((j) => inShard(j.index, opts.shard));
  makeDirs(path.join(opts.out, 'jobs'));
  // A changed config grows the sweep in place: jobs are addressed by their config hash, so every
  // finished job it still names is reused; the reports cover only the jobs named now.
  writePlan(opts.out, sweep, jobs);
  const r = await runJobs(mine, {
    dir: path.join(opts.out, 'jobs'),
    root: opts.out,
    jobs: opts.jobs,
    threads: opts.threads,
    backend: opts.backend,
    force: opts.force,
    label: `sweep ${opts.shard.index}/${opts.shard.count}`,
    onPool: opts.onPool,
  });
  const { missing } = await writeSweepReport(opts.out);
  const failed = new Set(r.failed.map((f) => f.name));
  const ours = new Set(mine.map((j) => j.name));
  return {
    total: jobs.length,
    inShard: mine.length,
    ...r,
    missing: missing.filter((n) => ours.has(n) && !failed.has(n)),
    seconds: (performance.now() - started) / 1000,
    notes: sweep.train ? recipeNotes(sweep.targets) : [],
  };
}

/** `<out>/sweep.json`: the config and the job names it plans (what `report` and `status` read). */
export function writePlan(out: string, sweep: unknown, jobs: ReadonlyArray<{ name: string }>): void {
  makeDirs(out);
  writeJsonAtomic(path.join(out, 'sweep.json'), { sweep, jobs: jobs.map((j) => j.name) });
}
