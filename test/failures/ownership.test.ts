import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyRunDir } from '../../src/io/rundir.ts';
import { UsageError } from '../../src/util/errors.ts';
import { dataFreePruneArgs } from './fixtures.ts';
import { cliInProcess, STACK_TRACE } from './in-process-cli.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-own-'));
const prune = (out: string, ...more: string[]) => cliInProcess(...dataFreePruneArgs('magnitude', out), ...more);
const train = (out: string, ...more: string[]) =>
  cliInProcess('train', '--model', 'lenet300', '--width', '0.25', '--dataset', 'mnist', '--steps', '3', '--out', out, ...more);

describe('--force removes only what the tool wrote', () => {
  it('a prune directory with a user file: --force refuses in one line (exit 2) and deletes nothing', async () => {
    const out = path.join(tmp(), 'run');
    expect((await prune(out)).status).toBe(0);
    const before = fs.readdirSync(out).sort();
    fs.writeFileSync(path.join(out, 'thesis.tex'), '\\documentclass{article}');
    const r = await prune(out, '--force');
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/holds 'thesis\.tex', which this tool did not write/);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(fs.readFileSync(path.join(out, 'thesis.tex'), 'utf8')).toBe('\\documentclass{article}');
    expect(fs.readdirSync(out).sort()).toEqual([...before, 'thesis.tex'].sort());
    // Without the foreign file --force redoes the run.
    fs.rmSync(path.join(out, 'thesis.tex'));
    expect((await prune(out, '--force')).status).toBe(0);
  });

  it('an input of the command inside --out is never deleted: --force refuses', () => {
    const dir = tmp();
    const table = path.join(dir, 'survival.arrow');
    fs.writeFileSync(table, 'ARROW1');
    fs.writeFileSync(path.join(dir, 'config.json'), '{}');
    expect(() => emptyRunDir(dir, [table])).toThrow(UsageError);
    expect(() => emptyRunDir(dir, [table])).toThrow(/--force would delete .*survival\.arrow, an input of this command/);
    expect(fs.existsSync(table)).toBe(true);
    expect(fs.existsSync(path.join(dir, 'config.json'))).toBe(true);
    // An input elsewhere does not stop it; every file of the tool's layout goes, the lock stays.
    for (const f of ['report.json', 'masks.arrow', 'DONE', 'LOCK', 'layer-density.svg', 'manifest.json.123.0123456789ab.tmp'])
      fs.writeFileSync(path.join(dir, f), 'x');
    fs.mkdirSync(path.join(dir, 'round-03', 'train'), { recursive: true });
    fs.rmSync(table);
    emptyRunDir(dir, [path.join(os.tmpdir(), 'elsewhere.arrow')]);
    expect(fs.readdirSync(dir)).toEqual(['LOCK']);
  });
});

describe('reruns of train', () => {
  it('a finished run of another configuration is refused (exit 2), not reported as this one', async () => {
    const out = path.join(tmp(), 'train');
    const first = await train(out, '--lr', '0.05');
    expect(first.status, first.stderr).toBe(0);
    const other = await train(out, '--lr', '0.01');
    expect(other.status).toBe(2);
    expect(other.stderr).toMatch(/holds a training run with a different configuration/);
    expect(other.stdout).toBe('');
    const same = await train(out, '--lr', '0.05');
    expect(same.status).toBe(0);
    expect(same.stdout).toMatch(/already finished/);
    // A finished run whose result.json was damaged: one line naming it (was a SyntaxError, exit 1).
    const result = path.join(out, 'result.json');
    fs.writeFileSync(result, fs.readFileSync(result, 'utf8').slice(0, 20));
    const damaged = await train(out, '--lr', '0.05');
    expect(damaged.status).toBe(2);
    expect(damaged.stderr.trim()).toMatch(new RegExp(`^pipeline: ${result} is not valid JSON \\(.*\\); rerun with --force to redo the training$`));
  });

  it('a non-empty directory that is not a run is refused', async () => {
    const out = tmp();
    fs.writeFileSync(path.join(out, 'notes.txt'), 'mine');
    const r = await train(out);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/is not empty and is not a run directory of this tool \(expected a training run\); pass another --out/);
    expect(fs.readdirSync(out)).toEqual(['notes.txt']);
  });
});

describe('refusals advise only what the command has', () => {
  it('run (no --force): a stage directory of another configuration names another --out or deleting it', async () => {
    const out = path.join(tmp(), 'run');
    fs.mkdirSync(path.join(out, 'irp'), { recursive: true });
    fs.writeFileSync(path.join(out, 'irp', 'config.json'), '{"model":"vgg11"}\n');
    const r = await cliInProcess('run', path.resolve(import.meta.dirname, '../../pipelines/default.json'), '--out', out);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(
      `pipeline: ${path.join(out, 'irp')} holds an IRP run with a different configuration; pass another --out to pipeline run, or delete that directory to redo the stage`,
    );
    expect(fs.readdirSync(path.join(out, 'irp')).sort()).toEqual(['config.json']);
  });
});

describe('sweep reports never overwrite good results from bad inputs, and name missing jobs', () => {
  it('a malformed sweep.json, report.json or job.json is refused (exit 2, results untouched); a removed job directory is named (exit 1)', async () => {
    const root = tmp();
    const config = path.join(root, 'cfg.json');
    fs.writeFileSync(
      config,
      JSON.stringify({ targets: [{ model: 'lenet300', width: 0.25, dataset: 'mnist' }], criteria: ['magnitude', 'random'], densities: [0.1], seeds: [0] }),
    );
    const out = path.join(root, 'sweep');
    const ran = await cliInProcess('sweep', config, '--out', out, '--jobs', '1');
    expect(ran.status, ran.stderr).toBe(0);
    expect((await cliInProcess('status', out)).stdout).toBe('prune  3/3 done\nreport 1/1 done\n');
    const good = fs.readFileSync(path.join(out, 'results.csv'), 'utf8');
    const plan = fs.readFileSync(path.join(out, 'sweep.json'), 'utf8');
    for (const bad of ['{"jobs": [', '{}', '{"jobs": [1, 2]}']) {
      fs.writeFileSync(path.join(out, 'sweep.json'), bad);
      const r = await cliInProcess('report', out);
      expect(r.status, bad).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/sweep\.json (is not valid JSON|has no 'jobs' list)/);
      expect(fs.readFileSync(path.join(out, 'results.csv'), 'utf8')).toBe(good);
    }
    fs.writeFileSync(path.join(out, 'sweep.json'), plan);
    // A job's report.json or job.json that is damaged or holds values of the wrong type: refused naming the file and key, results untouched.
    const job = path.join(
      out,
      'jobs',
      JSON.parse(plan).jobs.find((n: string) => n.includes('_magnitude_')),
    );
    const report = fs.readFileSync(path.join(job, 'report.json'), 'utf8');
    const edits: Array<[string, (r: Record<string, unknown>) => unknown, RegExp]> = [
      ['report.json', (r) => ({ ...r, test_accuracy: String(r.test_accuracy) }), /report\.json: 'test_accuracy' expected number, received string/],
      ['report.json', (r) => ({ ...r, test_accuracy: 93.5 }), /report\.json: 'test_accuracy' number must be less than or equal to 1/],
      ['report.json', (r) => ({ ...r, layers: [{ name: 'fc1', size: 10, kept: -1, density: 0.1 }] }), /report\.json: 'layers\.0\.kept'/],
      ['report.json', () => '{"criterion": ', /report\.json is not valid JSON/],
      ['job.json', () => '', /job\.json is missing or not valid JSON/],
    ];
    for (const [file, edit, says] of edits) {
      const before = fs.readFileSync(path.join(job, file), 'utf8');
      const edited = edit(JSON.parse(report));
      fs.writeFileSync(path.join(job, file), typeof edited === 'string' ? edited : JSON.stringify(edited));
      const r = await cliInProcess('report', out);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(says);
      expect(r.stderr).toContain(`delete ${path.join(job, 'DONE')}`);
      expect(fs.readFileSync(path.join(out, 'results.csv'), 'utf8')).toBe(good);
      fs.writeFileSync(path.join(job, file), before);
    }
    const gone = JSON.parse(plan).jobs.find((n: string) => n.includes('_random_'));
    fs.rmSync(path.join(out, 'jobs', gone), { recursive: true });
    expect((await cliInProcess('status', out)).stdout).toBe('prune  2/3 done, 1 to do\nreport 1/1 done\n');
    const r = await cliInProcess('report', out);
    expect(r.status).toBe(1);
    expect(r.stdout.trim().split('\n').at(-1)).toMatch(/finished jobs; 1 named by the plan have no result\)$/);
    expect(r.stderr).toContain(`job ${gone} has no result`);
  });
});

describe('an --out no directory can be made at', () => {
  it('/proc/self/x: one line, exit 2, at once (Node’s recursive mkdir spins forever there)', async () => {
    const { spawnSync } = await import('node:child_process');
    const bin = path.resolve(import.meta.dirname, '../../bin/pipeline.mjs');
    const r = spawnSync(process.execPath, [bin, ...dataFreePruneArgs('magnitude', '/proc/self/x')], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, PIPELINE_QUIET: '1' },
    });
    expect(r.signal).toBeNull(); // not killed by the timeout
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/\/proc\/self\/x/);
  });
});

describe('sweep plans', () => {
  it('a repeated criterion, density, seed or target is refused in one line naming both entries', async () => {
    const { planSweep } = await import('../../src/sweep/config.ts');
    const base = { targets: [{ model: 'lenet300', dataset: 'mnist' }], criteria: ['magnitude'], densities: [0.1], seeds: [0] };
    expect(() => planSweep({ ...base, criteria: ['magnitude', 'magnitude'] }, 's.json')).toThrow(
      /^s\.json: criteria\[1\] repeats criteria\[0\] \("magnitude"\); list each once$/,
    );
    expect(() => planSweep({ ...base, densities: [0.1, 0.05, 0.1] }, 's.json')).toThrow(/densities\[2\] repeats densities\[0\]/);
    expect(() => planSweep({ ...base, seeds: [1, 1] }, 's.json')).toThrow(/seeds\[1\] repeats seeds\[0\]/);
    expect(() => planSweep({ ...base, targets: [base.targets[0], { ...base.targets[0] }] }, 's.json')).toThrow(/targets\[1\] repeats targets\[0\]/);
    expect(planSweep({ ...base, densities: [0.1, 0.05] }, 's.json').jobs).toHaveLength(3); // and the dense baseline
  });
});

describe('presets with a key given twice', () => {
  it('are refused naming the key and line; the same key in different objects, and keys as string values, are fine', async () => {
    const { duplicateKey } = await import('../../src/util/json-keys.ts');
    const { readPreset } = await import('../../src/train/config.ts');
    expect(duplicateKey('{"a": 1, "b": {"a": 2}, "c": [{"a": 3}, {"a": 4}], "d": "a"}')).toBeUndefined();
    expect(duplicateKey('{\n  "seeds": [0],\n  "lr": 0.1,\n  "seeds": [1]\n}')).toEqual({ key: 'seeds', line: 4 });
    expect(duplicateKey('{"x": {"k\\"q": 1, "k\\"q": 2}}')).toEqual({ key: 'k"q', line: 1 });
    expect(duplicateKey('[{"a": 1}, {"b": {"a": 1, "a": 2}}]')).toEqual({ key: 'a', line: 1 });
    const file = path.join(tmp(), 'p.json');
    fs.writeFileSync(file, '{\n  "model": "lenet5",\n  "epochs": 3,\n  "epochs": 30\n}\n');
    expect(() => readPreset(file)).toThrow(UsageError);
    expect(() => readPreset(file)).toThrow(/key "epochs" appears twice in one object \(line 4\)/);
    // Pathologically deep JSON is refused by its depth before any recursive check could overflow the stack.
    for (const deep of ['['.repeat(100_000) + ']'.repeat(100_000), '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)]) {
      fs.writeFileSync(file, deep);
      expect(() => readPreset(file)).toThrow(/nests \d+ levels deep, more than the 64 any file of this tool needs; fix the file$/);
    }
    fs.writeFileSync(file, JSON.stringify({ a: '[[[[{{{{'.repeat(20), b: [[[1]]] }));
    expect(readPreset(file)).toEqual({ a: '[[[[{{{{'.repeat(20), b: [[[1]]] }); // brackets inside strings do not count
  });

  it("and so are the tool's own JSON files read back (a fitted AutoS's autos.json, a job's report.json)", async () => {
    const { loadAutos } = await import('../../src/scoring/autos/model-file.ts');
    const { readPruneReport } = await import('../../src/prune/report-file.ts');
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'autos.json'), '{\n  "format": "x",\n  "features": [],\n  "format": "y"\n}\n');
    expect(() => loadAutos(dir)).toThrow(UsageError);
    expect(() => loadAutos(dir)).toThrow(/autos\.json: key "format" appears twice in one object \(line 4\); JSON keeps only the last: refit/);
    fs.writeFileSync(path.join(dir, 'report.json'), '{"test_accuracy": 0.1,\n"test_accuracy": 0.9}');
    expect(() => readPruneReport(dir)).toThrow(/report\.json: key "test_accuracy" appears twice in one object \(line 2\)/);
  });
});
