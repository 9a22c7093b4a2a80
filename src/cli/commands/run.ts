import type { Command } from 'commander';
import { parseMainJob, targetsOf } from '../../run/config.ts';
import { readPreset, recipeNotes } from '../../train/config.ts';
import { backendFrom, noteAfter, positiveInt, threadsFrom } from '../options.ts';
import { notePool } from './sweep.ts';

export function registerRun(program: Command): void {
  program
    .command('run <config>')
    .description(
      'the whole pipeline: IRP on one or several sources → fit-autos on their tables → prune one or several target models with criteria × sparsities × seeds → train → results.md/csv, paired.csv + accuracy plots',
    )
    .option('--out <dir>', 'run directory', 'runs/main')
    .option(
      '--jobs <n>',
      'stage 3: prune jobs at a time, each in a worker process (default: cores ÷ --threads, at most the jobs pending)',
      positiveInt('--jobs'),
    )
    .action(async (file: string, f: { out: string; jobs?: number }, c: Command) => {
      const [{ runMainJob }, { JobsFailedError }] = await Promise.all([import('../../run/main-job.ts'), import('../../sweep/jobs.ts')]);
      const config = parseMainJob(readPreset(file), file);
      for (const note of recipeNotes(targetsOf(config))) noteAfter(note);
      const threads = await threadsFrom(c);
      const backend = await backendFrom(c);
      try {
        await runMainJob(config, f.out, backend, (s) => process.stdout.write(`${s}\n`), { jobs: f.jobs, threads, onPool: notePool, source: file });
      } catch (err) {
        if (!(err instanceof JobsFailedError)) throw err;
        for (const x of err.failed) process.stderr.write(`pipeline: job ${x.name} failed: ${x.error}\n`);
        process.stderr.write(`pipeline: ${err.message}\n`);
        process.exitCode = 1;
      }
    });
}
