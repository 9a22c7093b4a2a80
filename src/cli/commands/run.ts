import type { Command } from 'commander';
import { parseMainJob, targetsOf } from '../../run/config.ts';
import { readPreset, recipeNotes } from '../../train/config.ts';
import { usage } from '../../util/errors.ts';
import {
  addSlurmFlags,
  refuseSlurmOnlyFlags,
  backendFrom,
  nonNegativeInt,
  noteAfter,
  positiveInt,
  type SlurmFlags,
  slurmOptionsFrom,
  threadsFrom,
} from '../options.ts';
import { parseShard } from '../../sweep/shard.ts';
import { notePool } from './sweep.ts';

interface RunFlags extends SlurmFlags {
  out: string;
  stage?: string;
  source?: number;
  task?: string;
}

export function registerRun(program: Command): void {
  const run = program
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
    .option('--stage <s>', 'run one stage only: irp | fit | prune | report (what --slurm submits; finished work is skipped)')
    .option('--source <i>', 'with --stage irp: only source i (0-based)', nonNegativeInt('--source'))
    .option('--task <i/n>', 'with --stage prune: only the jobs whose plan index ≡ i (mod n)');
  addSlurmFlags(run, 'an IRP array, the fit, a prune array, the report').action(async (file: string, f: RunFlags, c: Command) => {
    const config = parseMainJob(readPreset(file), file);
    if (f.source !== undefined && f.stage !== 'irp') usage('--source goes with --stage irp');
    if (f.task !== undefined && f.stage !== 'prune') usage('--task goes with --stage prune');
    if (f.stage !== undefined && !['irp', 'fit', 'prune', 'report'].includes(f.stage)) usage(`--stage must be irp, fit, prune or report, got '${f.stage}'`);
    if (f.slurm && f.stage) usage('--slurm submits every stage: leave out --stage');
    refuseSlurmOnlyFlags(f);
    const [main, { JobsFailedError }] = await Promise.all([import('../../run/main-job.ts'), import('../../sweep/jobs.ts')]);
    const log = (s: string) => process.stdout.write(`${s}\n`);
    if (f.slurm || f.stage) main.validateMainJob(config, file); // runMainJob checks its own input
    if (f.slurm) {
      const { runStages, submitSlurm } = await import('../../run/slurm.ts');
      const pruneJobs = main.mainJobPlan(config, f.out).length;
      const slurm = slurmOptionsFrom(f, c);
      submitSlurm(config, f.out, runStages(config, f.out, pruneJobs, slurm), slurm);
      return;
    }
    for (const note of recipeNotes(targetsOf(config))) noteAfter(note);
    const threads = await threadsFrom(c);
    const backend = await backendFrom(c);
    const opts = { jobs: f.jobs, threads, onPool: notePool, source: file };
    try {
      if (f.stage === 'irp') await main.runIrpStage(config, f.out, backend, log, f.source);
      else if (f.stage === 'fit') await main.runFitStage(config, f.out, log);
      else if (f.stage === 'prune') {
        const r = await main.runPruneStage(config, f.out, backend, log, { ...opts, task: f.task ? parseShard(f.task, '--task') : undefined });
        if (r.failed.length) throw new JobsFailedError(r.failed, r.total);
      } else if (f.stage === 'report') await main.reportStage(config, f.out, backend, log, opts);
      else await main.runMainJob(config, f.out, backend, log, opts);
    } catch (err) {
      if (!(err instanceof JobsFailedError)) throw err;
      for (const x of err.failed) process.stderr.write(`pipeline: job ${x.name} failed: ${x.error}\n`);
      process.stderr.write(`pipeline: ${err.message}\n`);
      process.exitCode = 1;
    }
  });
}
