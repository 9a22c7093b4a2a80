/**
 * Run directories in the style of OpenLTH: a run's outputs live in `<root>/<kind>_<hash of its config>`,
 * so the same config always maps to the same place and a finished run can be reused instead of redone.
 *
 * A run counts as finished when its directory holds a `DONE` marker. Write the marker last, after every
 * other output (manifest included) is complete: a run killed half-way then has no marker and is redone.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { makeDirs, writeFileAtomic } from './atomic.ts';
import { usage } from '../util/errors.ts';
import { readJsonFile } from '../util/json-text.ts';
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

/** Config keys that name input files or directories (a survival table, a fitted AutoS, a dataset's files, a fit's tables). */
const PATH_KEYS = new Set(['table', 'autos', 'dataDir', 'tables']);
/** Stands for the run's or sweep's --out in a path inside it. */
export const OUT_PREFIX = '$OUT/';

/**
 * The identity of a job whose inputs may lie inside the directory the run writes (`root`: a run's AutoS
 * and tables, a sweep's --out): those paths written as `$OUT/<path inside root>`, so that a run
 * directory moved or copied whole keeps its job names and config.json files and resumes. Paths outside
 * `root` stay as given. With no root, the identity as it is.
 */
export function relocatable<T>(identity: T, root: string | undefined): T {
  if (root === undefined) return identity;
  const rel = (p: unknown) => (typeof p === 'string' && inside(p, root) ? OUT_PREFIX + relative(resolve(root), resolve(p)).split(sep).join('/') : p);
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, PATH_KEYS.has(k) ? (Array.isArray(x) ? x.map(rel) : rel(x)) : walk(x)]));
  };
  return walk(identity) as T;
}

export function runDir(root: string, kind: string, config: unknown): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(kind)) {
    usage(`invalid run kind "${kind}": start with a letter or digit, then use only letters, digits, '.', '_' and '-'`);
  }
  return join(root, `${kind}_${configHash(config)}`);
}

/**
 * Refuses a directory that holds a run of another configuration (so a changed config never silently
 * reuses stale outputs); `strict` also refuses a non-empty directory without a config.json. `fix` is
 * the advice of the refusal, for commands without --force (a stage of `pipeline run`).
 */
export function checkRunDir(dir: string, identity: unknown, what: string, opts: { strict?: boolean; fix?: string } = {}): void {
  const configFile = join(dir, 'config.json');
  if (existsSync(configFile)) {
    const recorded = readJsonFile(configFile, `it records which run the directory holds: pass --force to replace the directory, or another --out`);
    if (canonicalJson(recorded) !== canonicalJson(identity)) {
      usage(`${dir} holds ${what} with a different configuration; ${opts.fix ?? 'pass another --out or --force to replace it'}`);
    }
  } else if (opts.strict && existsSync(dir) && readdirSync(dir).some((f) => f !== LOCK_FILE)) {
    usage(`${dir} is not empty and is not a run directory of this tool (expected ${what}); pass another --out`);
  }
}

/** The canonical JSON of the identity `<dir>/config.json` records, or undefined when there is none (or it is unreadable). */
export function readRunConfig(dir: string): string | undefined {
  try {
    return canonicalJson(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
  } catch {
    return undefined;
  }
}

/** Records the identity a run directory belongs to, in `<dir>/config.json`. */
export function recordRunConfig(dir: string, identity: unknown): void {
  makeDirs(dir);
  writeFileAtomic(join(dir, 'config.json'), `${canonicalJson(identity)}\n`);
}

/** checkRunDir, then (after removing it with `force`) records the identity up front. */
export function claimRunDir(
  dir: string,
  identity: unknown,
  what: string,
  opts: { force?: boolean; strict?: boolean; fix?: string; inputs?: Array<string | undefined> } = {},
): void {
  if (opts.force) emptyRunDir(dir, opts.inputs);
  else checkRunDir(dir, identity, what, opts);
  recordRunConfig(dir, identity);
}

/**
 * Every name a run directory of this tool holds at its top level, whatever the command (train, prune,
 * irp, fit-autos, sweep, run, and a sweep's job directories), and the atomic writers' temporary files.
 * --force removes these and nothing else.
 */
const OWNED: RegExp[] = [
  /^(config|manifest|job|report|result|summary|metrics|sweep|autos|allocation|model|channels|distances|pruned_at|survival-curves)\.json$/,
  /^metrics\.jsonl$/,
  /^DONE$/,
  /^(masks|scores|survival|results)\.arrow$/,
  /^(checkpoint|features|weights|shrunk|scores|rewind|epoch1)\.safetensors$/,
  /^(results\.(csv|md)|paired\.csv)$/,
  /^(layer-density|accuracy|survival-vs-scores|predicted-vs-true)(_[^/]*)?\.(svg|png)$/,
  /^(train|dense|irp|autos|prune|jobs|round-\d+)$/,
  /\.\d+\.[0-9a-f]{12}\.tmp$/,
];

const isOwned = (name: string) => name === LOCK_FILE || OWNED.some((re) => re.test(name));

/** Is `p` the directory `dir` itself or inside it? */
function inside(p: string, dir: string): boolean {
  const rel = relative(resolve(dir), resolve(p));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * For --force: removes what this tool wrote in `dir` (its lock stays: the directory is redone while
 * locked). Refuses, removing nothing, when `dir` holds anything else (a file of the user's) or holds
 * one of the command's own `inputs` (a survival table used as --table, say).
 */
export function emptyRunDir(dir: string, inputs: Array<string | undefined> = []): void {
  if (!existsSync(dir)) return;
  for (const input of inputs) {
    if (input !== undefined && inside(input, dir)) usage(`--force would delete ${input}, an input of this command inside ${dir}; pass another --out`);
  }
  const foreign = readdirSync(dir).filter((f) => !isOwned(f));
  if (foreign.length) {
    usage(
      `${dir} holds ${foreign
        .slice(0, 3)
        .map((f) => `'${f}'`)
        .join(
          ', ',
        )}${foreign.length > 3 ? ` and ${foreign.length - 3} more` : ''}, which this tool did not write; --force replaces only the tool's own files: move them or pass another --out`,
    );
  }
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
