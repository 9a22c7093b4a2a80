/**
 * Run directories in the style of OpenLTH: a run's outputs live in `<root>/<kind>_<hash of its config>`,
 * so the same config always maps to the same place and a finished run can be reused instead of redone.
 *
 * A run counts as finished when its directory holds a `DONE` marker. Write the marker last, after every
 * other output (manifest included) is complete: a run killed half-way then has no marker and is redone.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.ts';
import { usage } from '../util/errors.ts';

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
