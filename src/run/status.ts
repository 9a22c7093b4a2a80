/**
 * `pipeline status <run or sweep dir>`: what a run or sweep has done, read from its directory alone (DONE markers, locks,
 * the fitted model, results), and Slurm's queue for the latest submission when squeue is there.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readJsonFile } from '../util/json-text.ts';
import { lockHolderElsewhere } from '../io/run-lock.ts';
import { isFinished } from '../io/rundir.ts';
import { usage } from '../util/errors.ts';
import { type MainJobConfig, parseMainJob } from './config.ts';
import { autosDirOf, mainJobPlan, sourceDirs } from './main-job.ts';
import { latestSubmission, queueStates, SLURM_DIR } from './slurm.ts';
import { readPlan } from '../sweep/report.ts';

interface StageState {
  stage: string;
  done: number;
  total: number;
  /** Locked by a live process (here) or by a process on another host. */
  running: number;
}

/** The run's config: given, or the copy `--slurm` keeps, or the finished run's manifest. */
export function runConfigOf(out: string, given?: unknown, source = 'run config'): MainJobConfig {
  if (given !== undefined) return parseMainJob(given, source);
  for (const file of [path.join(out, SLURM_DIR, 'config.json'), path.join(out, 'manifest.json')]) {
    if (!fs.existsSync(file)) continue;
    const j = readJsonFile(file, "pass the run's config with --config <file>") as { config?: unknown };
    return parseMainJob(file.endsWith('manifest.json') ? j.config : j, file);
  }
  usage(`${out} has no ${SLURM_DIR}/config.json or manifest.json: pass the run's config with --config <file>`);
}

/** A run's stages from its config. */
export function runStatus(config: MainJobConfig, out: string): StageState[] {
  const irp = sourceDirs(config, out);
  const autos = autosDirOf(out);
  const jobs = mainJobPlan(config, out).map((j) => path.join(out, 'prune', j.name));
  return [
    { stage: 'irp', done: irp.filter(isFinished).length, total: irp.length, running: irp.reduce((n, d) => n + busy(d), 0) },
    { stage: 'fit', done: fs.existsSync(path.join(autos, 'autos.json')) ? 1 : 0, total: 1, running: busy(autos) },
    { stage: 'prune', done: jobs.filter(isFinished).length, total: jobs.length, running: jobs.reduce((n, d) => n + busy(d), 0) },
    { stage: 'report', done: fs.existsSync(path.join(out, 'results.csv')) && fs.existsSync(path.join(out, 'manifest.json')) ? 1 : 0, total: 1, running: 0 },
  ];
}

/**
 * A sweep directory's stages, from the plan its sweep wrote (`sweep.json`: the job names); undefined when
 * `out` holds no sweep.
 */
export function sweepStatus(out: string): StageState[] | undefined {
  const planned = readPlan(out);
  if (!planned) return undefined;
  const jobs = [...planned].map((n) => path.join(out, 'jobs', n));
  return [
    { stage: 'prune', done: jobs.filter(isFinished).length, total: jobs.length, running: jobs.reduce((n, d) => n + busy(d), 0) },
    { stage: 'report', done: fs.existsSync(path.join(out, 'results.csv')) ? 1 : 0, total: 1, running: 0 },
  ];
}

const busy = (dir: string) => (fs.existsSync(dir) && !isFinished(dir) && lockHolderElsewhere(dir) ? 1 : 0);

/** Human-readable lines: one per stage, then the latest Slurm submission's jobs and their queue states. */
export function statusLines(stages: StageState[], out: string): string[] {
  const lines = stages.map((s) => {
    const pending = s.total - s.done - s.running;
    return `${s.stage.padEnd(6)} ${s.done}/${s.total} done${s.running ? `, ${s.running} running` : ''}${pending > 0 ? `, ${pending} to do` : ''}`;
  });
  const submitted = latestSubmission(out);
  if (submitted) {
    const states = queueStates(submitted.map((s) => s.jobId));
    lines.push(`slurm (latest submission; logs in ${submitted[0]?.logs}):`);
    for (const s of submitted) {
      const queued = states ? [...states].filter(([id]) => id === s.jobId || id.startsWith(`${s.jobId}_`)) : [];
      const state = !states ? 'squeue not available' : queued.length ? queued.map(([id, st]) => `${id} ${st}`).join(', ') : 'not in the queue (ended)';
      lines.push(`  ${s.stage.padEnd(6)} job ${s.jobId}${s.array ? ` array ${s.array}` : ''}: ${state}`);
    }
  }
  return lines;
}
