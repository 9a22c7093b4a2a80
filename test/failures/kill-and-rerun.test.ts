/**
 * Fault injection: `pipeline run` SIGKILLed at seeded-random moments, each kill followed by a rerun
 * (started at once, while the killed run's workers may still be exiting), ends byte-identical to an
 * unbroken run — wall-clock fields aside — with no temp files, no locks and no worker left behind.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/util/rng.ts';
import { alive, childrenOf } from '../helpers/procs.ts';

const bin = path.resolve(import.meta.dirname, '../../bin/pipeline.mjs');
const env = { ...process.env, PIPELINE_QUIET: '1', PIPELINE_THREADS: '' };
const args = [bin, '--backend', 'wasm', '--threads', '1', 'run', '../tiny.json', '--out', 'out', '--jobs', '1'];
// Both runs write `out` relative to their own directory: job configs name the AutoS directory by the path given.
const runIn = (cwd: string) => spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env });

const tiny = {
  irp: { model: 'lenet300', width: 0.25, dataset: 'mnist', criterion: 'magnitude', rounds: 2, finalDensity: 0.1, epochsPerRound: 1, train: { batchSize: 512 } },
  // Source and target are one architecture: a test of the machinery, not a transfer evaluation.
  allowSeenTargets: true,
  autos: { hidden: [8], epochs: 1 },
  prune: { model: 'lenet300', width: 0.25, criteria: ['autos', 'random'], sparsities: [0.9], train: { epochs: 1, steps: 5 } },
};

/** Keys that hold wall-clock times or durations. */
const WALL_CLOCK = /second|time|timing|started|finished|date|duration|elapsed|_ms$/i;

/** Manifest fields that name where a run was started: the two runs start in different directories. */
const PLACE = new Set(['cwd']);

function normalized(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalized);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => !WALL_CLOCK.test(k) && !PLACE.has(k))
      .map(([k, v]) => [k, normalized(v)]),
  );
}

/** A file's content with wall-clock fields removed (bytes for everything else). */
function comparable(file: string): unknown {
  const bytes = fs.readFileSync(file);
  const name = path.basename(file);
  if (name === 'DONE') return 'DONE'; // holds the time it was written
  if (name.endsWith('.json')) return normalized(JSON.parse(bytes.toString('utf8')));
  if (name.endsWith('.jsonl'))
    return bytes
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => normalized(JSON.parse(l)));
  if (name.endsWith('.csv')) {
    const rows = bytes
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    const keep = rows[0].map((h, i) => (WALL_CLOCK.test(h) ? -1 : i)).filter((i) => i >= 0);
    return rows.map((r) => keep.map((i) => r[i]));
  }
  if (name.endsWith('.arrow')) {
    const t = tableFromIPC(bytes);
    const columns = t.schema.fields.map((f) => f.name).filter((n) => !WALL_CLOCK.test(n));
    const meta = Object.fromEntries([...t.schema.metadata].filter(([k]) => !WALL_CLOCK.test(k)));
    // A table without wall-clock columns must be byte-identical; one with them, identical elsewhere.
    if (columns.length === t.schema.fields.length) return bytes.toString('base64');
    return {
      meta,
      rows: t
        .select(columns)
        .toArray()
        .map((r) => JSON.stringify(r.toJSON(), (_k, v) => (typeof v === 'bigint' ? String(v) : v))),
    };
  }
  return bytes.toString('base64');
}

function tree(dir: string): Map<string, unknown> {
  const files = (fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
  return new Map(files.map((f) => [f, comparable(path.join(dir, f))]));
}

const countFiles = (dir: string) => (fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).length : 0);

/**
 * Starts the run and SIGKILLs it `delayMs` after its directory first holds `files` entries (so the
 * kills spread over the stages however long start-up takes); resolves with its workers at the kill.
 */
function runAndKill(cwd: string, files: number, delayMs: number): Promise<{ killed: boolean; workers: number[] }> {
  return new Promise((resolve) => {
    const out = path.join(cwd, 'out');
    const child = spawn(process.execPath, args, { cwd, stdio: 'ignore', env });
    let workers: number[] = [];
    let killed = false;
    let timer: NodeJS.Timeout | undefined;
    const poll = setInterval(() => {
      if (timer || countFiles(out) < files) return;
      timer = setTimeout(() => {
        workers = childrenOf(child.pid!);
        killed = child.kill('SIGKILL');
      }, delayMs);
    }, 20);
    child.on('exit', () => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ killed, workers });
    });
  });
}

describe('kill -9 and rerun', () => {
  it('SIGKILL at 6 seeded-random moments (≥ 5 must land) of a small pipeline run, each rerun at once, ends as an unbroken run', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-kill-'));
    fs.writeFileSync(path.join(root, 'tiny.json'), JSON.stringify(tiny));
    const unbroken = path.join(root, 'unbroken');
    const broken = path.join(root, 'broken');
    for (const d of [unbroken, broken]) fs.mkdirSync(d);

    const reference = runIn(unbroken);
    expect(reference.status, reference.stderr).toBe(0);
    const total = countFiles(path.join(unbroken, 'out'));
    const rng = new Rng(20251128);
    // Seeded moments: after a random number of the run's files exist (sorted, so each rerun gets further), plus 0–400 ms.
    const moments = Array.from({ length: 6 }, () => ({ files: 1 + Math.floor(rng.next() * (total - 2)), delayMs: Math.floor(rng.next() * 400) })).sort(
      (a, b) => a.files - b.files,
    );
    const orphans: number[] = [];
    let kills = 0;
    for (const m of moments) {
      const r = await runAndKill(broken, m.files, m.delayMs);
      if (r.killed) kills++;
      orphans.push(...r.workers);
    }
    expect(kills, 'runs actually killed').toBeGreaterThanOrEqual(5);
    const last = runIn(broken);
    expect(last.status, last.stderr).toBe(0);
    expect(last.stderr).not.toMatch(/failed|in use by/);

    const expected = tree(path.join(unbroken, 'out'));
    const actual = tree(path.join(broken, 'out'));
    expect([...actual.keys()]).toEqual([...expected.keys()]);
    for (const [file, content] of expected) expect(actual.get(file), file).toEqual(content);
    expect([...actual.keys()].filter((f) => f.endsWith('.tmp') || path.basename(f) === 'LOCK' || f.endsWith('.takeover'))).toEqual([]);
    expect(orphans.filter(alive), 'workers of the killed runs still running').toEqual([]);
  }, 120_000);
});
