import fs from 'node:fs';
import path from 'node:path';
import PQueue from 'p-queue';
import { writeJsonAtomic } from '../io/atomic.ts';
import { isFinished } from '../io/rundir.ts';
import { readPreset } from '../train/config.ts';
import { createProgress } from '../util/progress.ts';
import { usage } from '../util/errors.ts';
import { planSweep } from './config.ts';
import { WorkerPool } from './pool.ts';
import { writeSweepReport } from './report.ts';

export interface SweepOptions {
  out: string;
  jobs: number;
  shard: { index: number; count: number };
  force: boolean;
  backend: string;
}

export interface SweepSummary {
  total: number;
  inShard: number;
  ran: number;
  skipped: number;
  failed: Array<{ name: string; error: string }>;
  seconds: number;
}

/**
 * `pipeline sweep`: the cross product of targets × criteria × densities × seeds, each job a
 * deterministic hashed directory under <out>/jobs, run by a pool of worker processes. Finished jobs
 * are never recomputed (unless --force); --shard i/n runs every n-th job.
 */
export async function runSweep(file: string, opts: SweepOptions): Promise<SweepSummary> {
  const started = performance.now();
  const { sweep, jobs } = planSweep(readPreset(file), file);
  const mine = jobs.filter((j) => j.index % opts.shard.count === opts.shard.index);
  fs.mkdirSync(path.join(opts.out, 'jobs'), { recursive: true });
  const planFile = path.join(opts.out, 'sweep.json');
  if (fs.existsSync(planFile)) {
    const previous = JSON.parse(fs.readFileSync(planFile, 'utf8'));
    if (JSON.stringify(previous.sweep) !== JSON.stringify(sweep) && !opts.force) {
      usage(`${opts.out} holds a different sweep; pass another --out or --force`);
    }
  }
  writeJsonAtomic(planFile, { sweep, jobs: jobs.map((j) => j.name) });
  const summary: SweepSummary = { total: jobs.length, inShard: mine.length, ran: 0, skipped: 0, failed: [], seconds: 0 };
  const progress = createProgress({ total: mine.length, label: `sweep ${opts.shard.index}/${opts.shard.count}`, unit: 'job' });
  const queue = new PQueue({ concurrency: opts.jobs });
  const pending = mine.filter((j) => opts.force || !isFinished(path.join(opts.out, 'jobs', j.name)));
  const pool = pending.length ? new WorkerPool(Math.min(opts.jobs, pending.length), opts.backend) : undefined;
  let done = 0;
  for (const job of mine) {
    const dir = path.join(opts.out, 'jobs', job.name);
    if (isFinished(dir) && !opts.force) {
      summary.skipped++;
      progress.update(++done);
      continue;
    }
    if (opts.force) fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const jobFile = path.join(dir, 'job.json');
    writeJsonAtomic(jobFile, { config: job.config });
    void queue.add(async () => {
      const error = await pool!.run(jobFile);
      if (error) summary.failed.push({ name: job.name, error });
      else summary.ran++;
      progress.update(++done, { failed: summary.failed.length });
    });
  }
  await queue.onIdle();
  pool?.close();
  progress.stop();
  await writeSweepReport(opts.out);
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}
