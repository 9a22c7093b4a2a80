import type { Command } from 'commander';
import { type BackendInfo, initBackend } from '../engine/backend.ts';
import { usage } from '../util/errors.ts';

/** The global --backend option (or PIPELINE_BACKEND), initialized for this process. */
export function backendFrom(cmd: Command): Promise<BackendInfo> {
  const root = cmd.parent ?? cmd;
  return initBackend(root.opts().backend as string | undefined);
}

export function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) usage(`${flag} must be a positive integer, got '${value}'`);
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
