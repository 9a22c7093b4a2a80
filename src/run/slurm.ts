/**
 * `pipeline run --slurm`: the main job as four dependent Slurm submissions — an array over the IRP
 * sources, the fit after them, an array of prune tasks after the fit (task i runs the jobs whose plan
 * index ≡ i mod tasks), and the report after every prune task — each a batch script in `<out>/slurm/`
 * that calls `pipeline run --stage …` on the same run directory. Every stage skips finished work, so a
 * resubmission after a cancelled, preempted or timed-out task redoes only what is missing.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeDirs, writeFileAtomic, writeJsonAtomic } from '../io/atomic.ts';
import { UsageError } from '../util/errors.ts';
import { type MainJobConfig, sourcesOf } from './config.ts';

export const SLURM_DIR = 'slurm';
const SUBMISSIONS_FILE = 'submissions.json';
export type SlurmStage = 'irp' | 'fit' | 'prune' | 'report';

export interface SlurmOptions {
  /** Prune tasks in the array (at most the number of prune jobs). */
  maxTasks: number;
  /** Passed to every sbatch call before the script (partition, time, GPUs, account …). */
  sbatchArgs: string[];
  /** Global flags every stage command repeats (--backend, --threads). */
  globalArgs: string[];
  /** How a task starts the CLI: node and bin/pipeline.mjs, absolute. */
  node: string;
  bin: string;
  /** Stage 3 worker processes per task (--jobs). */
  jobsPerTask: number;
}

/** One submission: a batch script running `pipeline <args>`, an array of `tasks` when given. */
export interface StageSpec {
  stage: SlurmStage;
  tasks?: number;
  /** Shell words after `pipeline` (already quoted where needed; $SLURM_ARRAY_TASK_ID stays a variable). */
  args: string;
}

export interface SlurmScript {
  stage: SlurmStage;
  file: string;
  /** sbatch --array range, for array stages. */
  array?: string;
  text: string;
}

export interface Submission {
  stage: SlurmStage;
  script: string;
  jobId: string;
  array?: string;
  dependsOn?: string;
  logs: string;
}

const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The prune tasks of an array: --max-tasks, at most one per job. */
const taskCount = (maxTasks: number, jobs: number) => Math.max(1, Math.min(maxTasks, jobs));

/** The stages of `pipeline run`: IRP array over sources, fit, prune array, report. */
export function runStages(config: MainJobConfig, out: string, pruneJobs: number, opts: SlurmOptions): StageSpec[] {
  const abs = path.resolve(out);
  const base = `run ${quote(path.join(abs, SLURM_DIR, 'config.json'))} --out ${quote(abs)}`;
  const tasks = taskCount(opts.maxTasks, pruneJobs);
  return [
    { stage: 'irp', tasks: sourcesOf(config).length, args: `${base} --stage irp --source "$SLURM_ARRAY_TASK_ID"` },
    { stage: 'fit', args: `${base} --stage fit` },
    { stage: 'prune', tasks, args: `${base} --stage prune --task "$SLURM_ARRAY_TASK_ID/${tasks}" --jobs ${opts.jobsPerTask}` },
    { stage: 'report', args: `${base} --stage report` },
  ];
}

/** The stages of `pipeline sweep`: a prune array (one shard per task) and the report. */
export function sweepStages(out: string, jobs: number, opts: SlurmOptions): StageSpec[] {
  const abs = path.resolve(out);
  const tasks = taskCount(opts.maxTasks, jobs);
  return [
    {
      stage: 'prune',
      tasks,
      args: `sweep ${quote(path.join(abs, SLURM_DIR, 'config.json'))} --out ${quote(abs)} --shard "$SLURM_ARRAY_TASK_ID/${tasks}" --jobs ${opts.jobsPerTask}`,
    },
    { stage: 'report', args: `report ${quote(abs)}` },
  ];
}

/** The batch scripts of the stages (not yet written). */
function slurmScripts(out: string, stages: StageSpec[], opts: SlurmOptions): SlurmScript[] {
  const dir = path.join(path.resolve(out), SLURM_DIR);
  const cli = [opts.node, opts.bin, ...opts.globalArgs].map(quote).join(' ');
  return stages.map(({ stage, tasks, args }) => {
    const array = tasks !== undefined ? `0-${tasks - 1}` : undefined;
    return {
      stage,
      file: path.join(dir, `${stage}.sh`),
      array,
      text: [
        '#!/bin/bash',
        `#SBATCH --job-name=pipeline-${stage}`,
        `#SBATCH --output=${path.join(dir, 'logs', array ? `${stage}-%A_%a.out` : `${stage}-%j.out`)}`,
        '#SBATCH --ntasks=1',
        // Preemption and time limits send SIGTERM first: the stage stops cleanly and a resubmission resumes it.
        '#SBATCH --signal=TERM@60',
        'set -euo pipefail',
        `cd ${quote(process.cwd())}`,
        `exec ${cli} ${args}`,
        '',
      ].join('\n'),
    };
  });
}

/** The sbatch command line of each stage, its dependency on the previous stage's job id given. */
function sbatchArgv(s: SlurmScript, opts: SlurmOptions, after?: string): string[] {
  return [
    '--parsable',
    ...(s.array ? [`--array=${s.array}`] : []),
    // A failed or cancelled dependency cancels the stages after it instead of leaving them pending forever.
    ...(after ? [`--dependency=afterok:${after}`, '--kill-on-invalid-dep=yes'] : []),
    ...opts.sbatchArgs,
    s.file,
  ];
}

/**
 * Writes the scripts and the config copy (`<out>/slurm/config.json`, what the stages read), then submits
 * the stages in order, each after the previous one, with sbatch (or, with `dryRun`, prints them).
 * Submissions are appended to `<out>/slurm/submissions.json`.
 */
export function submitSlurm(
  config: unknown,
  out: string,
  stages: StageSpec[],
  opts: SlurmOptions & { dryRun: boolean; log: (s: string) => void },
): Submission[] {
  const scripts = slurmScripts(out, stages, opts);
  const dir = path.join(path.resolve(out), SLURM_DIR);
  if (opts.dryRun) {
    for (const s of scripts) opts.log(`# ${s.file}\n${s.text}`);
    let prev: string | undefined;
    for (const s of scripts) {
      opts.log(`sbatch ${sbatchArgv(s, opts, prev).map(quote).join(' ')}`);
      prev = `<${s.stage} job id>`;
    }
    return [];
  }
  makeDirs(path.join(dir, 'logs'));
  writeJsonAtomic(path.join(dir, 'config.json'), config);
  for (const s of scripts) {
    writeFileAtomic(s.file, s.text);
    fs.chmodSync(s.file, 0o755);
  }
  const done: Submission[] = [];
  let prev: string | undefined;
  for (const s of scripts) {
    const argv = sbatchArgv(s, opts, prev);
    const r = spawnSync('sbatch', argv, { encoding: 'utf8' });
    if (r.error) throw new UsageError(`sbatch could not be started (${(r.error as NodeJS.ErrnoException).code}): run on a Slurm login node, or use --dry-run`);
    if (r.status !== 0) {
      throw new UsageError(
        `sbatch refused the ${s.stage} stage: ${(r.stderr || r.stdout).trim().split('\n')[0]}${done.length ? ` (already submitted: ${done.map((d) => `${d.stage} ${d.jobId}`).join(', ')})` : ''}`,
      );
    }
    const jobId = r.stdout.trim().split(';')[0]!;
    done.push({ stage: s.stage, script: s.file, jobId, array: s.array, dependsOn: prev, logs: path.join(dir, 'logs') });
    prev = jobId;
  }
  const file = path.join(dir, SUBMISSIONS_FILE);
  const before = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { submissions: unknown[] }).submissions : [];
  writeJsonAtomic(file, { submissions: [...before, { at: new Date().toISOString(), stages: done }] });
  for (const d of done) opts.log(`submitted ${d.stage}: job ${d.jobId}${d.array ? ` (array ${d.array})` : ''}${d.dependsOn ? ` after ${d.dependsOn}` : ''}`);
  opts.log(`logs: ${path.join(dir, 'logs')}; state: pipeline status ${out}`);
  return done;
}

/** The latest submission recorded in a run directory, if any. */
export function latestSubmission(out: string): Submission[] | undefined {
  const file = path.join(out, SLURM_DIR, SUBMISSIONS_FILE);
  if (!fs.existsSync(file)) return undefined;
  const all = (JSON.parse(fs.readFileSync(file, 'utf8')) as { submissions: Array<{ stages: Submission[] }> }).submissions;
  return all.at(-1)?.stages;
}

/** Slurm's view of job ids (squeue: pending/running; gone from the queue: ended). Undefined without squeue. */
export function queueStates(jobIds: string[]): Map<string, string> | undefined {
  if (!jobIds.length) return new Map();
  const r = spawnSync('squeue', ['-h', '-o', '%i %T', '-j', jobIds.join(',')], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return r.error ? undefined : new Map();
  const states = new Map<string, string>();
  for (const line of r.stdout.trim().split('\n').filter(Boolean)) {
    const [id, state] = line.trim().split(/\s+/);
    states.set(id!, state!);
  }
  return states;
}
