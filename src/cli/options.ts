import path from 'node:path';
import type { Command } from 'commander';
import type { BackendInfo } from '../engine/backend.ts';
import { usage } from '../util/errors.ts';

/** The engine (tfjs and its backends) loads only for commands that compute, never for --help. */
let engine: typeof import('../engine/backend.ts') | undefined;
const loadEngine = async () => (engine ??= await import('../engine/backend.ts'));

const notes: string[] = [];

/** A note for the user, printed on stderr once the command has succeeded (bad input stays one line). */
export function noteAfter(line: string): void {
  if (!notes.includes(line)) notes.push(line);
}

/** The notes of a command that succeeded. */
export function flushNotes(): void {
  for (const line of notes.splice(0)) process.stderr.write(`pipeline: note: ${line}\n`);
}

/** Releases the engine's threads and GPU device if a command started it. */
export function shutdownEngine(): void {
  engine?.shutdownBackend();
}

/**
 * The global --backend and --threads options (or PIPELINE_BACKEND / PIPELINE_THREADS), initialized
 * for this process. `workers`: how many processes share the machine (commands that run a worker
 * pool), so the default thread count is cores ÷ workers.
 */
export async function backendFrom(cmd: Command, workers = 1): Promise<BackendInfo> {
  const root = cmd.parent ?? cmd;
  const opts = root.opts();
  const { initBackend } = await loadEngine();
  return initBackend(opts.backend as string | undefined, { threads: opts.threads as string | undefined, workers });
}

/** --threads or PIPELINE_THREADS as a checked number, undefined when neither is given. */
export async function threadsFrom(cmd: Command): Promise<number | undefined> {
  const raw = ((cmd.parent ?? cmd).opts().threads as string | undefined) ?? process.env.PIPELINE_THREADS;
  return raw === undefined || raw === '' ? undefined : (await loadEngine()).parseThreads({ threads: raw });
}

export function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) usage(`${flag} must be a positive integer, got '${value}'`);
    return n;
  };
}

export function nonNegativeInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < 0) usage(`${flag} must be an integer ≥ 0, got '${value}'`);
    return n;
  };
}

export function positiveNumber(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) usage(`${flag} must be a positive number, got '${value}'`);
    return n;
  };
}

/** The flags that name a network and its data, as config keys (undefined where not given). */
export interface TargetFlags {
  model: string;
  width?: number;
  dataset: string;
  dataDir?: string;
  padTo?: number;
  batchNorm?: boolean;
}

/** The target keys of parsed flags (the one mapping from target flags to config keys). */
export function targetOf<T extends Partial<TargetFlags>>(f: T): Pick<T, keyof TargetFlags> {
  return { model: f.model, width: f.width, dataset: f.dataset, dataDir: f.dataDir, padTo: f.padTo, batchNorm: f.batchNorm } as Pick<T, keyof TargetFlags>;
}

/** Declares the target flags (--model … --no-batch-norm) of a command, in one place for all commands. */
export function addTargetFlags(cmd: Command, opts: { modelRequired?: boolean; dataset: string; datasetDefault?: string }): Command {
  (opts.modelRequired ? cmd.requiredOption('--model <name>', 'model name') : cmd.option('--model <name>', 'model name'))
    .option('--width <n>', 'first-stage channels (resnet/vgg) or multiplier (lenet)', positiveNumber('--width'))
    .option('--dataset <name>', opts.dataset, opts.datasetDefault)
    .option('--data-dir <dir>', 'dataset directory override')
    .option('--pad-to <n>', 'zero-pad images to n×n (e.g. 32: 28×28 data on vgg)', positiveInt('--pad-to'))
    .option('--batch-norm', 'batch norm after each conv (default on for resnet/vgg, off for lenet)')
    .option('--no-batch-norm', 'no batch norm');
  return cmd;
}

/** The flags of `--slurm` submission, shared by run and sweep. */
export interface SlurmFlags {
  slurm?: boolean;
  maxTasks: number;
  sbatchArgs?: string;
  dryRun?: boolean;
  jobs?: number;
}

export function addSlurmFlags(cmd: Command, what: string): Command {
  return cmd
    .option('--slurm', `submit to Slurm with sbatch as dependent jobs (${what}; scripts in <out>/slurm/), then return`)
    .option('--max-tasks <n>', 'with --slurm: tasks in the prune array (at most the prune jobs)', positiveInt('--max-tasks'), 16)
    .option('--sbatch-args <args>', 'with --slurm: extra sbatch options for every stage, e.g. "--partition=gpu --time=4:00:00"')
    .option('--dry-run', 'with --slurm: print the scripts and sbatch commands, submit nothing');
}

/** --dry-run and --sbatch-args mean nothing without --slurm: refused rather than ignored. */
export function refuseSlurmOnlyFlags(f: SlurmFlags): void {
  if (!f.slurm && (f.dryRun || f.sbatchArgs !== undefined)) usage('--dry-run and --sbatch-args go with --slurm');
}

/** What every stage script repeats: the CLI's own node and bin, the global flags, --jobs per task. */
export function slurmOptionsFrom(f: SlurmFlags, c: Command) {
  const global = c.optsWithGlobals() as { backend?: string; threads?: string };
  return {
    maxTasks: f.maxTasks,
    sbatchArgs: (f.sbatchArgs ?? '').split(/\s+/).filter(Boolean),
    globalArgs: [...(global.backend ? ['--backend', global.backend] : []), ...(global.threads ? ['--threads', global.threads] : [])],
    node: process.execPath,
    bin: path.resolve(import.meta.dirname, '../../bin/pipeline.mjs'),
    jobsPerTask: f.jobs ?? 1,
    dryRun: Boolean(f.dryRun),
    log: (s: string) => process.stdout.write(`${s}\n`),
  };
}
