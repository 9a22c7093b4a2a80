import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAsync } from '../helpers/cli.ts';
import { readArrowFile } from '../../src/io/arrow.ts';
import { RESULT_COLUMNS } from '../../src/report/results.ts';
import { formatEntry as entryOf } from '../../src/spec/criterion-entry.ts';
import { planSweep } from '../../src/sweep/config.ts';

const bin = path.resolve(import.meta.dirname, '../../bin/pipeline.mjs');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-sweep-'));
const cli = (...args: string[]) => runAsync(process.execPath, [bin, ...args], { ...process.env, PIPELINE_QUIET: '1' });

const sweep = {
  targets: [{ model: 'lenet300', width: 0.25, dataset: 'mnist' }],
  criteria: ['snip', 'magnitude'],
  densities: [0.2, 0.05],
  seeds: [0],
  train: { epochs: 1, steps: 20 },
};

function write(dir: string, obj: unknown): string {
  const file = path.join(dir, 'sweep.json');
  fs.writeFileSync(file, JSON.stringify(obj));
  return file;
}

const jobDirs = (out: string) => fs.readdirSync(path.join(out, 'jobs')).sort();
const results = (out: string) =>
  fs
    .readFileSync(path.join(out, 'results.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',').slice(0, 7).join(','))
    .sort();

describe('pipeline sweep', () => {
  let finished: { root: string; parallel: string } | undefined;
  it('plans the cross product with deterministic job names', () => {
    const a = planSweep(sweep, 's');
    const b = planSweep(sweep, 's');
    expect(a.jobs).toHaveLength(5); // 2 criteria × 2 densities, and the dense baseline
    expect(a.jobs.map((j) => j.name)).toEqual(b.jobs.map((j) => j.name));
    expect(new Set(a.jobs.map((j) => j.name)).size).toBe(5);
    // Per target, the dense baseline of each seed first (as in a run's stage 3), then the pruned jobs.
    expect(a.jobs[0]!.name).toMatch(/^lenet300-mnist_dense_seed0_[0-9a-f]{8}$/);
    expect(a.jobs[0]!.config).toMatchObject({ criterion: 'magnitude', density: 1, train: a.jobs[1]!.config.train });
  });

  it("'#<rounds>' sets an entry's rounds: its own jobs, named with it, and the default stays without it", () => {
    const plan = planSweep({ ...sweep, targets: [{ model: 'lenet5', dataset: 'mnist' }], criteria: ['synflow', 'synflow#3', 'snip#2'], densities: [0.5] }, 's');
    expect(plan.jobs.map((j) => [j.config.criterion, j.config.iterations])).toEqual([
      ['magnitude', undefined], // the dense baseline
      ['synflow', undefined],
      ['synflow', 3],
      ['snip', 2],
    ]);
    expect(plan.jobs[2].name).toMatch(/^lenet5-mnist_synflow-3_d0.5_seed0_[0-9a-f]{8}$/);
    expect(new Set(plan.jobs.map((j) => j.name)).size).toBe(4);
    expect(() => planSweep({ ...sweep, criteria: ['snip#0'] }, 's')).toThrow(/rounds after # must be a positive integer/);
    // Table labels give the entry back, rounds included where they are not the default; the dense
    // baseline takes no rounds from the job it is built from.
    const labelled = planSweep(
      { ...sweep, targets: [{ model: 'lenet5', dataset: 'mnist' }], criteria: ['synflow#3', 'snip', 'structured:crop#2'], densities: [0.5] },
      's',
    );
    expect(labelled.jobs.map((j) => entryOf(j.config))).toEqual(['dense', 'synflow#3', 'snip', 'structured:crop#2']);
    expect(labelled.jobs[0]!.config.iterations).toBeUndefined();
    // autos's default rounds are in every job config (a tuned recipe) but not in its label.
    const autos = { ...labelled.jobs[2]!.config, criterion: 'autos', allocation: 'synflow' };
    expect(entryOf({ ...autos, iterations: 10 })).toBe('autos@synflow');
    expect(entryOf({ ...autos, iterations: 1 })).toBe('autos@synflow#1');
  });

  it("'+reconnect' gets its own jobs and label; the plain entry's job config and name are unchanged", () => {
    const plain = planSweep({ ...sweep, targets: [{ model: 'lenet5', dataset: 'mnist' }], criteria: ['snip'], densities: [0.5] }, 's');
    const both = planSweep({ ...sweep, targets: [{ model: 'lenet5', dataset: 'mnist' }], criteria: ['snip', 'snip+reconnect'], densities: [0.5] }, 's');
    expect(both.jobs[1].name).toBe(plain.jobs[1].name);
    expect(both.jobs[1].config.reconnect).toBeUndefined(); // and config hashes drop undefined keys: same name as before
    expect(both.jobs[2].config.reconnect).toBe(true);
    expect(both.jobs[2].name).toMatch(/^lenet5-mnist_snip-reconnect_d0.5_seed0_[0-9a-f]{8}$/);
    expect(both.jobs.map((j) => entryOf(j.config))).toEqual(['dense', 'snip', 'snip+reconnect']);
    expect(both.jobs[0]!.config.reconnect).toBeUndefined();
  });

  it('structured:<criterion> entries plan channel-pruning jobs, checked before any job starts', () => {
    const plan = planSweep({ ...sweep, targets: [{ model: 'lenet5', dataset: 'mnist' }], criteria: ['crop', 'structured:crop'], densities: [0.5, 0.2] }, 's');
    expect(plan.jobs.map((j) => [j.config.criterion, j.config.structured ?? false])).toEqual([
      ['magnitude', false], // the dense baseline
      ['crop', false],
      ['crop', false],
      ['crop', true],
      ['crop', true],
    ]);
    expect(plan.jobs[3].name).toMatch(/^lenet5-mnist_structured-crop_d0.5_seed0_/);
    expect(() => planSweep({ ...sweep, targets: [{ model: 'lenet5', dataset: 'mnist' }], criteria: ['structured:crop'], densities: [0.05] }, 's')).toThrow(
      /would empty a layer/,
    );
  });

  it('parallel and serial runs give equal results; rerunning recomputes nothing; shards cover every job once', async () => {
    const root = tmp();
    const file = write(root, sweep);
    const parallel = path.join(root, 'parallel');
    const r2 = await cli('sweep', file, '--jobs', '2', '--out', parallel);
    expect(r2.status, r2.stderr).toBe(0);
    expect(r2.stdout).toMatch(/5 ran, 0 already finished, 0 failed/);
    const serial = path.join(root, 'serial');
    expect((await cli('sweep', file, '--jobs', '1', '--out', serial)).status).toBe(0);
    expect(results(parallel)).toEqual(results(serial));
    expect(results(parallel)).toHaveLength(5);
    const again = await cli('sweep', file, '--jobs', '2', '--out', parallel, '--resume');
    expect(again.stdout).toMatch(/0 ran, 5 already finished/);
    finished = { root, parallel };
    const sharded = path.join(root, 'sharded');
    const s0 = await cli('sweep', file, '--shard', '0/2', '--jobs', '1', '--out', sharded);
    const s1 = await cli('sweep', file, '--shard', '1/2', '--jobs', '1', '--out', sharded);
    expect(s0.stdout).toMatch(/3 of 5 jobs in shard 0\/2: 3 ran/);
    expect(s1.stdout).toMatch(/2 of 5 jobs in shard 1\/2: 2 ran/);
    expect(jobDirs(sharded)).toEqual(jobDirs(parallel));
    expect(results(sharded)).toEqual(results(serial));
    const table = readArrowFile(path.join(sharded, 'results.arrow'));
    expect(table.numRows).toBe(5);
    expect(table.schema.fields.map((f) => f.name)).toEqual([...RESULT_COLUMNS]);
    const md = fs.readFileSync(path.join(sharded, 'results.md'), 'utf8');
    expect(md).toMatch(/^## lenet300-w0\.25\/mnist, trained 1 epoch or 20 steps, whichever ended first, 1 seed \(0\)$/m);
    expect(md).toMatch(/\| dense \(0% sparse\) \| [\d.]+ \| [\d.]+ \|/);
    expect(md).toMatch(/\| snip \|/);
    expect(md).toMatch(/80\.0% sparse/);
    // The paired section of `pipeline run` closes a sweep's report too; these criteria have no autos entry.
    expect(md).toMatch(/^## Paired differences: autos − best handcrafted\n\nNeeds an autos or lottery entry/m);
    expect(fs.readFileSync(path.join(sharded, 'paired.csv'), 'utf8').trim().split('\n')).toHaveLength(1);
    const svg = fs.readFileSync(path.join(sharded, 'accuracy_lenet300-w0_25_mnist.svg'), 'utf8');
    for (const name of ['snip', 'magnitude', 'dense']) expect(svg).toContain(`>${name}</text>`);
  });

  it('grows in place: a new density runs only its job; a dropped criterion leaves the report, not the disk', async () => {
    expect(finished, 'needs the sweep of the test above').toBeDefined();
    const { root, parallel } = finished!;
    const grown = write(root, { ...sweep, criteria: ['snip'], densities: [0.2, 0.05, 0.1] });
    const g = await cli('sweep', grown, '--jobs', '2', '--out', parallel);
    expect(g.status, g.stderr).toBe(0);
    expect(g.stdout).toMatch(/4 of 4 jobs in shard 0\/1: 1 ran, 3 already finished, 0 failed/);
    expect(jobDirs(parallel)).toHaveLength(6); // magnitude's two jobs stay on disk
    expect(
      results(parallel)
        .map((l) => l.split(',')[1])
        .sort(),
    ).toEqual(['dense', 'snip', 'snip', 'snip']);
    expect(fs.readFileSync(path.join(parallel, 'results.md'), 'utf8')).toMatch(/\| criterion \| 80\.0% sparse \| 90\.0% sparse \| 95\.0% sparse \|/);
  });

  for (const [name, patch, pattern] of [
    ['an unknown criterion', { criteria: ['snip', 'obd'] }, /criteria\[1\] 'obd': unknown criterion 'obd'/],
    ['an impossible density', { densities: [0.2, 1.5] }, /densities\[1\] = 1.5 is impossible/],
    ['a density that keeps no weight', { densities: [0.2, 1e-9] }, /'snip' on targets\[0\]: density 1e-9 keeps no weight of lenet300/],
    ['an unknown allocation', { criteria: ['snip@banana'] }, /criteria\[0\] 'snip@banana': unknown allocation 'banana'/],
    [
      'channel pruning of a model without channels',
      { criteria: ['structured:crop'] },
      /'structured:crop' on targets\[0\] at density 0.2: lenet300 has no channel structure/,
    ],
  ] as const) {
    it(`bad input: ${name} fails before any job starts, naming the entry`, async () => {
      const root = tmp();
      const out = path.join(root, 'out');
      const r = await cli('sweep', write(root, { ...sweep, ...patch }), '--out', out);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
      expect(fs.existsSync(out)).toBe(false);
    });
  }
});
