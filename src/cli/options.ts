import type { Command } from 'commander';
import { type BackendInfo, initBackend, parseThreads } from '../engine/backend.ts';
import { usage } from '../util/errors.ts';

/**
 * The global --backend and --threads options (or PIPELINE_BACKEND / PIPELINE_THREADS), initialized
 * for this process. `workers`: how many processes share the machine (commands that run a worker
 * pool), so the default thread count is cores ÷ workers.
 */
export function backendFrom(cmd: Command, workers = 1): Promise<BackendInfo> {
  const root = cmd.parent ?? cmd;
  const opts = root.opts();
  return initBackend(opts.backend as string | undefined, { threads: opts.threads as string | undefined, workers });
}

/** --threads or PIPELINE_THREADS as a checked number, undefined when neither is given. */
export function threadsFrom(cmd: Command): number | undefined {
  const raw = ((cmd.parent ?? cmd).opts().threads as string | undefined) ?? process.env.PIPELINE_THREADS;
  return raw === undefined || raw === '' ? undefined : parseThreads({ threads: raw });
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
