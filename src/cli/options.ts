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
