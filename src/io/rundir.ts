/**
 * Run directories in the style of OpenLTH: a run's outputs live in `<root>/<kind>_<hash of its config>`,
 * so the same config always maps to the same place and a finished run can be reused instead of redone.
 *
 * A run counts as finished when its directory holds a `DONE` marker. Write the marker last, after every
 * other output (manifest included) is complete: a run killed half-way then has no marker and is redone.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.ts';
import { usage } from '../util/errors.ts';
import { LOCK_FILE } from './run-lock.ts';

export const DONE_MARKER = 'DONE';

/** JSON with object keys sorted at every level and undefined fields dropped. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

/** First 12 hex digits of the SHA-256 of the config's canonical JSON. */
export function configHash(config: unknown): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 12);
}

export function runDir(root: string, kind: string, config: unknown): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(kind)) {
    usage(`invalid run kind "${kind}": start with a letter or digit, then use only letters, digits, '.', '_' and '-'`);
  }
  return join(root, `${kind}_${configHash(config)}`);
}

/**
 * Refuses a directory that holds a run of another configuration (so a changed config never silently
 * reuses stale outputs); `strict` also refuses a non-empty directory without a config.json.
 */
export function checkRunDir(dir: string, identity: unknown, what: string, opts: { strict?: boolean } = {}): void {
  const configFile = join(dir, 'config.json');
  if (existsSync(configFile)) {
    if (canonicalJson(JSON.parse(readFileSync(configFile, 'utf8'))) !== canonicalJson(identity)) {
      usage(`${dir} holds ${what} with a different configuration; pass another --out or --force to replace it`);
    }
  } else if (opts.strict && existsSync(dir) && readdirSync(dir).some((f) => f !== LOCK_FILE)) {
    usage(`${dir} is not empty and holds no ${what}; pass another --out or --force to replace it`);
  }
}

/** Records the identity a run directory belongs to, in `<dir>/config.json`. */
export function recordRunConfig(dir: string, identity: unknown): void {
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, 'config.json'), `${canonicalJson(identity)}\n`);
}

/** checkRunDir, then (after removing it with `force`) records the identity up front. */
export function claimRunDir(dir: string, identity: unknown, what: string, opts: { force?: boolean; strict?: boolean } = {}): void {
  if (opts.force) emptyRunDir(dir);
  else checkRunDir(dir, identity, what, opts);
  recordRunConfig(dir, identity);
}

/** Removes everything in `dir` but its lock (for --force: the directory stays locked while it is redone). */
export function emptyRunDir(dir: string): void {
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir)) if (f !== LOCK_FILE) rmSync(join(dir, f), { recursive: true, force: true });
}

export function isFinished(dir: string): boolean {
  return existsSync(join(dir, DONE_MARKER));
}

export function markFinished(dir: string): void {
  writeFileAtomic(join(dir, DONE_MARKER), `${new Date().toISOString()}\n`);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  // Objects with their own serialisation (Date) keep it.
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const field = (value as Record<string, unknown>)[key];
    if (field !== undefined) sorted[key] = sortKeys(field);
  }
  return sorted;
}
