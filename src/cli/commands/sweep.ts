import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import type { Command } from 'commander';
import type { PruneConfig } from '../../prune/run.ts';
import { runPrune } from '../../prune/run.ts';
import { writeLayerDensityPlot } from '../../report/prune-plot.ts';
import { parseShard } from '../../sweep/config.ts';
import { writeSweepReport } from '../../sweep/report.ts';
import { runSweep } from '../../sweep/run.ts';
import { backendFrom, positiveInt } from '../options.ts';

export function registerSweep(program: Command): void {
  program
    .command('sweep <config>')
    .description('targets × criteria × densities × seeds, each job a hashed directory, run by a pool of long-lived worker processes')
    .option('--out <dir>', 'sweep directory', 'runs/sweep')
    .option('--jobs <n>', 'worker processes (default: cores)', positiveInt('--jobs'), os.availableParallelism())
    .option('--shard <i/n>', 'run only jobs with index ≡ i (mod n), e.g. for a Slurm array or Kubernetes Indexed Job')
    .option('--resume', 'skip finished jobs (the default; kept for scripts)')
    .option('--force', 'recompute finished jobs')
    .action(async (file: string, f: { out: string; jobs: number; shard?: string; force?: boolean }, c: Command) => {
      const shard = parseShard(f.shard);
      const backend = await backendFrom(c);
      const s = await runSweep(file, { out: f.out, jobs: f.jobs, shard, force: Boolean(f.force), backend: backend.name });
      process.stdout.write(
        `sweep ${f.out}: ${s.inShard} of ${s.total} jobs in shard ${shard.index}/${shard.count}: ${s.ran} ran, ${s.skipped} already finished, ${s.failed.length} failed (${s.seconds.toFixed(1)} s, ${f.jobs} workers, ${backend.name})\n`,
      );
      for (const x of s.failed) process.stderr.write(`pipeline: job ${x.name} failed: ${x.error}\n`);
      if (s.failed.length) process.exitCode = 1;
    });

  program
    .command('report <dir>')
    .description('render a sweep directory: results.md (mean ± std over seeds), results.csv/.arrow, accuracy and per-layer density SVGs')
    .action(async (dir: string) => {
      const rows = await writeSweepReport(dir);
      process.stdout.write(fs.readFileSync(`${dir}/results.md`, 'utf8'));
      process.stdout.write(`(${rows.length} finished jobs)\n`);
    });

  program
    .command('sweep-worker', { hidden: true })
    .description('internal: a sweep worker process; runs the job files its parent sends over IPC')
    .action(async (_f: unknown, c: Command) => {
      const backend = await backendFrom(c);
      await new Promise<void>((done) => {
        process.on('message', async (m: { jobFile: string }) => {
          try {
            const job = JSON.parse(fs.readFileSync(m.jobFile, 'utf8')) as { config: PruneConfig };
            await runPrune(job.config, { out: path.dirname(m.jobFile), force: false, backend, plot: writeLayerDensityPlot });
            process.send!({ ok: true });
          } catch (err) {
            process.send!({ ok: false, error: (err as Error).message.split('\n')[0] });
          }
        });
        process.on('disconnect', () => done());
      });
    });
}
