import path from 'node:path';
import fs from 'node:fs';
import type { Command } from 'commander';
import type { PruneConfig } from '../../prune/config.ts';
import type { PoolShape } from '../../sweep/jobs.ts';
import { parseShard } from '../../sweep/shard.ts';
import { describeFailure, usage } from '../../util/errors.ts';
import { addSlurmFlags, refuseSlurmOnlyFlags, backendFrom, noteAfter, positiveInt, type SlurmFlags, slurmOptionsFrom, threadsFrom } from '../options.ts';

interface SweepFlags extends SlurmFlags {
  out: string;
  shard?: string;
  force?: boolean;
}

async function submitSweep(file: string, f: SweepFlags, c: Command): Promise<void> {
  if (f.shard || f.force) usage('--slurm shards the sweep itself: leave out --shard and --force');
  const [{ planSweep }, { readPreset }, { submitSlurm, sweepStages }, { writePlan }] = await Promise.all([
    import('../../sweep/config.ts'),
    import('../../train/config.ts'),
    import('../../run/slurm.ts'),
    import('../../sweep/run.ts'),
  ]);
  const config = readPreset(file);
  const { sweep, jobs } = planSweep(config, file, f.out);
  const slurm = slurmOptionsFrom(f, c);
  if (!slurm.dryRun) writePlan(f.out, sweep, jobs); // `status` reads it while the shards wait in the queue
  submitSlurm(config, f.out, sweepStages(f.out, jobs.length, slurm), slurm);
}

export function registerSweep(program: Command): void {
  const sweep = program
    .command('sweep <config>')
    .description('targets × criteria × densities × seeds, each job a hashed directory, run by a pool of long-lived worker processes')
    .option('--out <dir>', 'sweep directory', 'runs/sweep')
    .option('--jobs <n>', 'worker processes (default: cores ÷ --threads, at most the jobs pending)', positiveInt('--jobs'))
    .option('--shard <i/n>', 'run only jobs with index ≡ i (mod n), e.g. for a Slurm array or Kubernetes Indexed Job')
    .option('--resume', 'skip finished jobs (the default; kept for scripts)')
    .option('--force', 'recompute finished jobs');
  addSlurmFlags(sweep, 'an array of shards, then the report').action(async (file: string, f: SweepFlags, c: Command) => {
    if (f.slurm) return submitSweep(file, f, c);
    refuseSlurmOnlyFlags(f);
    const shard = parseShard(f.shard);
    const { runSweep } = await import('../../sweep/run.ts');
    const backend = await backendFrom(c);
    const s = await runSweep(file, {
      out: f.out,
      jobs: f.jobs,
      threads: await threadsFrom(c),
      shard,
      force: Boolean(f.force),
      backend: backend.name,
      onPool: notePool,
    });
    process.stdout.write(
      `sweep ${f.out}: ${s.inShard} of ${s.total} jobs in shard ${shard.index}/${shard.count}: ${s.ran} ran, ${s.skipped} already finished, ${s.failed.length} failed (${s.seconds.toFixed(1)} s, ${s.pool.jobs} workers × ${s.pool.threads} threads, ${backend.name})\n`,
    );
    for (const note of s.notes) noteAfter(note);
    for (const x of s.failed) process.stderr.write(`pipeline: job ${x.name} failed: ${x.error}\n`);
    for (const name of s.missing)
      process.stderr.write(`pipeline: job ${name} has no result (its directory was removed or changed during the run); rerun the sweep\n`);
    if (s.failed.length || s.missing.length) process.exitCode = 1;
  });

  program
    .command('report <dir>')
    .description(
      'render a sweep directory (the jobs its current config names): results.md (a dense row; mean ± std with ≥ 2 seeds), results.csv/.arrow, accuracy and per-layer density SVGs',
    )
    .action(async (dir: string) => {
      const { writeSweepReport } = await import('../../sweep/report.ts');
      const { rows, missing } = await writeSweepReport(dir);
      process.stdout.write(fs.readFileSync(`${dir}/results.md`, 'utf8'));
      process.stdout.write(`(${rows.length} finished jobs${missing.length ? `; ${missing.length} named by the plan have no result` : ''})\n`);
      for (const name of missing.slice(0, 20))
        process.stderr.write(`pipeline: job ${name} has no result (not run, failed or removed); rerun 'pipeline sweep' for it\n`);
      if (missing.length > 20) process.stderr.write(`pipeline: … and ${missing.length - 20} more jobs without a result\n`);
      if (missing.length) process.exitCode = 1;
    });

  program
    .command('sweep-worker', { hidden: true })
    .description('internal: a worker process of sweep and run; runs the job files its parent sends over IPC')
    .action(async (_f: unknown, c: Command) => {
      // The parent closed the channel, or died (even of SIGKILL): stop at once, mid-job or not. The
      // job's directory has no DONE marker then, so the next run redoes (resumes) it.
      process.on('disconnect', () => process.exit(0));
      const ready = backendFrom(c);
      const modules = Promise.all([import('../../prune/run.ts'), import('../../report/prune-plot.ts')]);
      ready.catch((err: Error) => {
        // Its one line fails the job this worker holds (or the pool's waiting jobs once no worker is left).
        process.stderr.write(`pipeline: ${err.message.split('\n')[0]}\n`);
        process.exit(2);
      });
      process.on('message', async (m: { jobFile: string }) => {
        try {
          const backend = await ready;
          const [{ runPrune }, { writeLayerDensityPlot }] = await modules;
          const job = JSON.parse(fs.readFileSync(m.jobFile, 'utf8')) as { config: PruneConfig; root?: string };
          // A worker of a killed run may still hold the job's lock for the instant it takes to exit: wait for it.
          const r = await runPrune(job.config, {
            out: path.dirname(m.jobFile),
            root: job.root,
            force: false,
            backend,
            plot: writeLayerDensityPlot,
            lockWaitMs: 15_000,
          });
          process.send?.({ ok: true, skipped: r.skipped });
        } catch (err) {
          process.send?.({ ok: false, error: describeFailure(err).line });
        }
      });
      await new Promise<never>(() => {}); // served until the channel closes
    });
}

/** The one note line when --jobs × --threads oversubscribes the cores. */
export function notePool(shape: PoolShape): void {
  if (shape.note) process.stderr.write(`pipeline: note: ${shape.note}\n`);
}
