/**
 * `pipeline run --slurm` against a real Slurm: a one-node cluster on this machine started by
 * scripts/slurm/local-cluster.sh (munged, slurmctld, slurmd; Debian's slurm-wlm). Not skipped when Slurm
 * is missing: the suite fails, naming the script that installs it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockRunDir } from '../../src/io/run-lock.ts';
import { runAsync } from '../helpers/cli.ts';
import { tiny } from '../helpers/tiny-run.ts';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/pipeline.mjs');
const env = { ...process.env, PIPELINE_QUIET: '1', PIPELINE_THREADS: '' };
const cli = (...args: string[]) => runAsync(process.execPath, [bin, '--backend', 'wasm', '--threads', '1', ...args], env);
const cluster = path.join(root, 'scripts/slurm/local-cluster.sh');

const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), 'utf8');
/** results.csv without its wall-clock column, and paired.csv. */
const results = (dir: string) => ({
  csv: read(dir, 'results.csv')
    .trim()
    .split('\n')
    .map((l) => l.split(',').slice(0, -1).join(',')),
  paired: read(dir, 'paired.csv'),
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const squeue = () => spawnSync('squeue', ['-h', '-o', '%i %T'], { encoding: 'utf8' }).stdout.trim();

/** Waits until no job of ours is queued (the cluster is this test's alone). */
async function drained(timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (squeue() !== '') {
    if (Date.now() > end) throw new Error(`Slurm queue not empty after ${timeoutMs} ms:\n${squeue()}`);
    await sleep(300);
  }
}

let startedHere = false;
let work: string;
let plain: ReturnType<typeof results>;
let configFile: string;

beforeAll(async () => {
  const up = spawnSync('sinfo', ['-h'], { encoding: 'utf8' });
  if (up.error || up.status !== 0) {
    const r = spawnSync(cluster, ['start'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`no Slurm to test against: ${cluster} start failed:\n${r.stderr}${r.stdout}`);
    startedHere = true;
  }
  spawnSync('scancel', ['--user', os.userInfo().username]);
  await drained(30_000);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-slurm-'));
  configFile = path.join(work, 'tiny.json');
  fs.writeFileSync(configFile, JSON.stringify(tiny));
  const r = await cli('run', configFile, '--out', path.join(work, 'plain'), '--jobs', '1');
  expect(r.status, r.stderr).toBe(0);
  plain = results(path.join(work, 'plain'));
}, 300_000);

afterAll(() => {
  if (startedHere) spawnSync(cluster, ['stop']);
});

describe('pipeline run --slurm on a one-node Slurm', () => {
  it('runs IRP, fit, a prune array and the report as dependent jobs; results equal the run without Slurm; status reads the run dir', async () => {
    const out = path.join(work, 'slurm');
    const sub = await cli('run', configFile, '--out', out, '--slurm', '--max-tasks', '3');
    expect(sub.status, sub.stderr).toBe(0);
    expect(sub.stdout).toMatch(
      /submitted irp: job \d+ \(array 0-0\)\nsubmitted fit: job \d+ after \d+\nsubmitted prune: job \d+ \(array 0-2\) after \d+\nsubmitted report: job \d+ after \d+\n/,
    );
    for (const s of ['irp', 'fit', 'prune', 'report']) expect(read(path.join(out, 'slurm'), `${s}.sh`)).toMatch(/^#!\/bin\/bash\n#SBATCH --job-name=pipeline-/);
    const submitted = JSON.parse(read(path.join(out, 'slurm'), 'submissions.json')).submissions;
    expect(submitted).toHaveLength(1);
    expect(submitted[0].stages.map((s: { stage: string }) => s.stage)).toEqual(['irp', 'fit', 'prune', 'report']);
    await drained(240_000);
    expect(results(out)).toEqual(plain);
    const logs = fs.readdirSync(path.join(out, 'slurm', 'logs')).sort();
    expect(logs.filter((l) => l.startsWith('prune-'))).toHaveLength(3);
    const status = await cli('status', out);
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^irp +1\/1 done\nfit +1\/1 done\nprune +7\/7 done\nreport +1\/1 done\nslurm \(latest submission; logs in .*\):\n/);
    expect(status.stdout).toMatch(/prune +job \d+ array 0-2: not in the queue \(ended\)/);
    // The run's manifest names the submission: job ids, scripts, logs.
    const manifest = JSON.parse(read(out, 'manifest.json'));
    expect(manifest.resolved.slurm.map((s: { stage: string; jobId: string }) => s.stage)).toEqual(['irp', 'fit', 'prune', 'report']);
    expect(manifest.resolved.slurm[2]).toMatchObject({ array: '0-2', logs: path.join(out, 'slurm', 'logs') });
  }, 300_000);

  it('a prune task cancelled mid-run (scancel) cancels the report; resubmitting finishes the run with the same results', async () => {
    const out = path.join(work, 'cancelled');
    const sub = await cli('run', configFile, '--out', out, '--slurm', '--max-tasks', '2');
    expect(sub.status, sub.stderr).toBe(0);
    const prune = /submitted prune: job (\d+)/.exec(sub.stdout)![1];
    // Task 0 runs jobs 0, 2, 4, 6: cancel it once its first job is done and it is working on the next.
    const log = () => fs.readdirSync(path.join(out, 'slurm', 'logs')).find((f) => f.startsWith(`prune-${prune}_0`));
    const end = Date.now() + 240_000;
    for (;;) {
      const f = log();
      if (f && /\[1\/4\]/.test(read(path.join(out, 'slurm', 'logs'), f))) break;
      if (Date.now() > end) throw new Error(`prune task 0 did not finish a job:\n${squeue()}`);
      await sleep(100);
    }
    expect(spawnSync('scancel', [`${prune}_0`]).status).toBe(0);
    await drained(120_000);
    expect(fs.existsSync(path.join(out, 'results.csv'))).toBe(false); // the report was cancelled with its dependency
    const mid = await cli('status', out);
    const done = Number(/prune +(\d+)\/7 done/.exec(mid.stdout)![1]);
    expect(done).toBeGreaterThanOrEqual(1);
    expect(done).toBeLessThan(7);

    const again = await cli('run', configFile, '--out', out, '--slurm', '--max-tasks', '2');
    expect(again.status, again.stderr).toBe(0);
    await drained(240_000);
    expect(results(out)).toEqual(plain);
    expect(JSON.parse(read(path.join(out, 'slurm'), 'submissions.json')).submissions).toHaveLength(2);
  }, 420_000);

  it('sweep --slurm: an array of shards and the report give the same results as the sweep run here', async () => {
    const sweep = {
      targets: [{ model: 'lenet300', width: 0.25, dataset: 'mnist' }],
      criteria: ['snip', 'magnitude'],
      densities: [0.5, 0.1],
      seeds: [0],
      train: { epochs: 1, steps: 20 },
    };
    const file = path.join(work, 'sweep.json');
    fs.writeFileSync(file, JSON.stringify(sweep));
    const here = await cli('sweep', file, '--out', path.join(work, 'sweep-here'), '--jobs', '1');
    expect(here.status, here.stderr).toBe(0);
    const sub = await cli('sweep', file, '--out', path.join(work, 'sweep-slurm'), '--slurm', '--max-tasks', '2');
    expect(sub.status, sub.stderr).toBe(0);
    expect(sub.stdout).toMatch(/submitted prune: job \d+ \(array 0-1\)\nsubmitted report: job \d+ after \d+\n/);
    await drained(180_000);
    const csv = (d: string) => results(path.join(work, d)).csv;
    expect(csv('sweep-slurm')).toEqual(csv('sweep-here'));
    expect(csv('sweep-here')).toHaveLength(6); // header, dense, 2 criteria × 2 densities
    const status = await cli('status', path.join(work, 'sweep-slurm'));
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toMatch(
      /^prune +5\/5 done\nreport +1\/1 done\nslurm \(latest submission; logs in .*\):\n {2}prune +job \d+ array 0-1: not in the queue \(ended\)\n/,
    );
  }, 300_000);

  it('a lock left on another node by a Slurm job that has ended is taken over; one of a live holder is not', () => {
    const dir = fs.mkdtempSync(path.join(work, 'lock-'));
    const holder = (slurmJob?: string) => JSON.stringify({ pid: 1, host: 'another-node', started: '2026-01-01T00:00:00Z', slurmJob });
    fs.writeFileSync(path.join(dir, 'LOCK'), holder('999999')); // not a job Slurm knows: ended
    const notes: string[] = [];
    const release = lockRunDir(dir, { note: (l) => notes.push(l) });
    expect(notes.join()).toMatch(/was locked by process 1 on another-node .*no longer running; taking it over/);
    release();
    fs.writeFileSync(path.join(dir, 'LOCK'), holder()); // no Slurm job: cannot be known dead
    expect(() => lockRunDir(dir)).toThrow(/is in use by process 1 on another-node .*if it is dead, remove/);
  });
});
