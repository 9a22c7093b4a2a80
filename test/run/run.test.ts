import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAsync } from '../helpers/cli.ts';
import { tiny } from '../helpers/tiny-run.ts';
import { cpuCores } from '../../src/engine/backend.ts';

const bin = path.resolve(import.meta.dirname, '../../bin/pipeline.mjs');
const cli = (...args: string[]) =>
  runAsync(process.execPath, [bin, '--backend', 'wasm', ...args], { ...process.env, PIPELINE_QUIET: '1', PIPELINE_THREADS: '' });

const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), 'utf8');
/** results.csv without its timing column. */
const table = (dir: string) =>
  read(dir, 'results.csv')
    .trim()
    .split('\n')
    .map((l) => l.split(',').slice(0, -1).join(','));

describe('pipeline run', () => {
  it('stage 3 on 1 and on 2 workers gives bit-identical tables; manifests record jobs and threads; a rerun redoes nothing', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-run-'));
    const file = path.join(root, 'tiny.json');
    fs.writeFileSync(file, JSON.stringify(tiny));
    const serial = path.join(root, 'serial');
    const parallel = path.join(root, 'parallel');
    const a = await cli('run', file, '--out', serial, '--jobs', '1');
    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/7 jobs .*, 1 at a time/);
    fs.cpSync(path.join(serial, 'irp'), path.join(parallel, 'irp'), { recursive: true }); // stage 1 is not under test
    const b = await cli('run', file, '--out', parallel, '--jobs', '2', '--threads', '1');
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/7 jobs .*, 2 at a time × 1 thread/);

    expect(table(parallel)).toEqual(table(serial));
    expect(table(serial)[0]).toBe(
      'target,criterion,epochs,steps,sparsity,density,param_density,effective_density,seed,accuracy,loss,grad_norm_ratio,min_layer_kept',
    );
    expect(table(serial)).toHaveLength(8);
    expect(table(serial)[1]).toMatch(/^lenet300-w0\.25\/mnist,dense,1,20,0,1,1,1,0,/);
    expect(read(serial, 'results.md')).toMatch(/^## lenet300-w0\.25\/mnist, trained 1 epoch or 20 steps, whichever ended first, 1 seed \(0\)\n/);
    expect(read(serial, 'results.md')).toMatch(/\n\| dense \(0% sparse\) \| [\d.]+ \| [\d.]+ \|\n/);
    expect(read(parallel, 'results.md')).toBe(read(serial, 'results.md'));
    for (const f of ['accuracy.svg', 'results.arrow', 'layer-density_s0.5.svg', 'layer-density_s0.9.svg', 'manifest.json'])
      expect(fs.existsSync(path.join(parallel, f)), f).toBe(true);

    const manifest = (dir: string) => JSON.parse(read(dir, 'manifest.json'));
    expect(manifest(serial).resolved).toMatchObject({ jobs: 1, threads: Math.min(cpuCores(), 8) });
    expect(manifest(parallel).resolved).toMatchObject({ jobs: 2, threads: 1 });
    const jobs = fs.readdirSync(path.join(parallel, 'prune')).sort();
    expect(jobs).toHaveLength(7);
    for (const j of jobs) {
      expect(j).toMatch(/^((autos|snip|random)_s0\.[59]|dense)_seed0_[0-9a-f]{8}$/);
      const dir = path.join(parallel, 'prune', j);
      for (const f of ['DONE', 'job.json', 'report.json', 'masks.arrow', 'layer-density.svg']) expect(fs.existsSync(path.join(dir, f)), `${j}/${f}`).toBe(true);
      expect(JSON.parse(read(dir, 'manifest.json')).backend).toMatchObject({ name: 'wasm', threads: 1 });
    }
    // min_layer_kept: the fewest weights any tensor of the job kept, from its report's per-layer counts.
    const csv = read(parallel, 'results.csv')
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    const col = csv[0]!.indexOf('min_layer_kept');
    const fewest = jobs.map((j) =>
      Math.min(...(JSON.parse(read(path.join(parallel, 'prune', j), 'report.json')).layers as Array<{ kept: number }>).map((l) => l.kept)),
    );
    expect(
      csv
        .slice(1)
        .map((r) => Number(r[col]))
        .sort((a, b) => a - b),
    ).toEqual(fewest.sort((a, b) => a - b));

    const again = await cli('run', file, '--out', parallel, '--jobs', '2', '--threads', '1');
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout.match(/\(done before\)/g)).toHaveLength(7);
    expect(table(parallel)).toEqual(table(serial));

    // Moved whole, the run resumes as finished: its AutoS and table paths inside --out are part of no job's name or identity.
    const moved = path.join(root, 'moved');
    fs.renameSync(parallel, moved);
    const after = await cli('run', file, '--out', moved, '--jobs', '2', '--threads', '1');
    expect(after.status, after.stderr).toBe(0);
    expect(after.stdout.match(/\(done before\)/g)).toHaveLength(7);
    expect(fs.readdirSync(path.join(moved, 'prune')).sort()).toEqual(jobs);
    expect(table(moved)).toEqual(table(serial));
    // A fit recorded with absolute table paths (run directories made before relocatable identities) is kept, not refused.
    const fitConfig = path.join(moved, 'autos', 'config.json');
    const legacy = read(path.join(moved, 'autos'), 'config.json').replaceAll('$OUT/', `${moved}/`);
    expect(legacy).not.toBe(read(path.join(moved, 'autos'), 'config.json'));
    fs.writeFileSync(fitConfig, legacy);
    const fitted = fs.statSync(path.join(moved, 'autos', 'autos.json')).mtimeMs;
    const adopted = await cli('run', file, '--out', moved, '--jobs', '2', '--threads', '1');
    expect(adopted.status, adopted.stderr).toBe(0);
    expect(fs.statSync(path.join(moved, 'autos', 'autos.json')).mtimeMs).toBe(fitted);
    expect(read(path.join(moved, 'autos'), 'config.json')).toContain('$OUT/');
  }, 240_000);

  it('--jobs × --threads beyond the cores runs, with one note line', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-run-'));
    const file = path.join(root, 'tiny.json');
    fs.writeFileSync(file, JSON.stringify({ ...tiny, prune: { ...tiny.prune, criteria: ['random'], sparsities: [0.5, 0.9] } }));
    const jobs = cpuCores() + 1;
    const r = await cli('run', file, '--out', path.join(root, 'out'), '--jobs', String(jobs), '--threads', '1');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.match(/note: /g)).toHaveLength(1);
    expect(r.stderr).toContain(`note: --jobs ${jobs} × --threads 1 = ${jobs} threads on ${cpuCores()} cores`);
    expect(r.stdout).toMatch(/3 jobs .*, 3 at a time × 1 thread/);
  }, 240_000);

  it('bad input: --jobs 0 is refused before anything runs', async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-run-')), 'out');
    const r = await cli('run', 'pipelines/default.json', '--out', out, '--jobs', '0');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--jobs must be a positive integer/);
    expect(fs.existsSync(out)).toBe(false);
  });
});
