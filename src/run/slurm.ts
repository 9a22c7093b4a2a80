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
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.ts';
import { UsageError } from '../util/errors.ts';
import { type MainJobConfig, sourcesOf } from './config.ts';

export const SLURM_DIR = 'slurm';
export const SUBMISSIONS_FILE = 'submissions.json';
const STAGES = ['irp', 'fit', 'prune', 'report'] as const;
export type SlurmStage = (typeof STAGES)[number];

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

/** `--sbatch-args "--partition=gpu --time=2:00:00"` → its words (no shell: split on whitespace). */
export function splitSbatchArgs(s: string | undefined): string[] {
  return (s ?? '').split(/\s+/).filter(Boolean);
}

/** The four batch scripts of a run (not yet written). `configFile` is the run's own copy of its config. */
export function slurmScripts(config: MainJobConfig, out: string, pruneJobs: number, opts: SlurmOptions): SlurmScript[] {
  const abs = path.resolve(out);
  const dir = path.join(abs, SLURM_DIR);
  const configFile = path.join(dir, 'config.json');
  const sources = sourcesOf(config).length;
  const tasks = Math.max(1, Math.min(opts.maxTasks, pruneJobs));
  const cli = [opts.node, opts.bin, ...opts.globalArgs, 'run', configFile, '--out', abs].map(quote).join(' ');
  const script = (stage: SlurmStage, array: string | undefined, command: string): SlurmScript => ({
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
      `exec ${command}`,
      '',
    ].join('\n'),
  });
  return [
    script('irp', `0-${sources - 1}`, `${cli} --stage irp --source "$SLURM_ARRAY_TASK_ID"`),
    script('fit', undefined, `${cli} --stage fit`),
    script('prune', `0-${tasks - 1}`, `${cli} --stage prune --task "$SLURM_ARRAY_TASK_ID/${tasks}" --jobs ${opts.jobsPerTask}`),
    script('report', undefined, `${cli} --stage report`),
  ];
}

/** The sbatch command line of each stage, its dependency on the previous stage's job id given. */
export function sbatchArgv(s: SlurmScript, opts: SlurmOptions, after?: string): string[] {
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
 * Writes the scripts and the config copy, then submits the four stages in order with sbatch (or, with
 * `dryRun`, prints them). Submissions are appended to `<out>/slurm/submissions.json`.
 */
export function submitSlurm(
  config: MainJobConfig,
  out: string,
  pruneJobs: number,
  opts: SlurmOptions & { dryRun: boolean; log: (s: string) => void },
): Submission[] {
  const scripts = slurmScripts(config, out, pruneJobs, opts);
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
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
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
