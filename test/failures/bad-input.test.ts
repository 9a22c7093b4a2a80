/**
 * Every command × every input file kind × every way a file goes bad: one line on stderr (no stack
 * trace), exit 2, nothing on stdout, no output directory and no new files anywhere but the case's
 * temp directory. Runs the CLI in process: the fixtures are made once, each case fails in well under a second.
 *
 * Kinds × corruptions that cannot occur are left out by construction, not skipped: a mask holds bits
 * (no NaN/Inf); IDX and CIFAR hold bytes (their "values" case is a label out of range).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Schema, Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensors, saveSafetensors } from '../../src/io/safetensors.ts';
import { Rng } from '../../src/util/rng.ts';
import { type Fixtures, lotteryArgs, makeFixtures, TINY_TRAIN } from './fixtures.ts';
import { cliInProcess, STACK_TRACE } from './in-process-cli.ts';

type Corruption = 'missing' | 'empty' | 'truncated' | 'random bytes' | 'wrong schema' | 'wrong shapes' | 'NaN/Inf';

interface Case {
  kind: string;
  command: string;
  corruption: Corruption;
  /** Writes the bad input under `dir` and returns the CLI arguments (their outputs under `dir/out`). */
  make: (fx: Fixtures, dir: string, out: string) => string[];
  /** What the one line must mention. */
  says: RegExp;
}

const copy = (from: string, to: string) => (fs.cpSync(from, to, { recursive: true }), to);
const halve = (file: string) => fs.writeFileSync(file, fs.readFileSync(file).subarray(0, Math.floor(fs.statSync(file).size / 2)));
const randomize = (file: string, size?: number) => {
  const rng = new Rng(7);
  fs.writeFileSync(
    file,
    Uint8Array.from({ length: Math.min(size ?? fs.statSync(file).size, 4096) }, () => Math.floor(rng.next() * 256)),
  );
};

/** Applies one of the generic corruptions to `file` (a copy), or removes it. */
function corrupt(file: string, how: 'missing' | 'empty' | 'truncated' | 'random bytes'): void {
  if (how === 'missing') fs.rmSync(file, { recursive: true, force: true });
  else if (how === 'empty') fs.writeFileSync(file, '');
  else if (how === 'truncated') halve(file);
  else randomize(file);
}

/** Rewrites an Arrow file through `edit` (of its table), keeping its schema metadata. */
function editArrow(file: string, edit: (t: Table) => Table): void {
  fs.writeFileSync(file, tableToIPC(edit(tableFromIPC(fs.readFileSync(file))), 'file'));
}
const withoutColumn = (name: string) => (t: Table) => {
  const keep = t.schema.fields.map((f) => f.name).filter((n) => n !== name);
  const s = t.select(keep);
  return new Table(new Schema(s.schema.fields, t.schema.metadata), s.batches);
};
const poisonColumn = (name: string, value: number) => (t: Table) => {
  (t.batches[0].getChild(name)!.data[0].values as Float32Array)[3] = value;
  return t;
};

function editSafetensors(file: string, edit: (t: ReturnType<typeof loadSafetensors>['tensors']) => void): void {
  const { tensors, metadata } = loadSafetensors(file);
  edit(tensors);
  saveSafetensors(file, tensors, metadata);
}
const firstF32 = (t: ReturnType<typeof loadSafetensors>['tensors']) => Object.values(t).find((x) => x.dtype === 'F32')!;

const GENERIC = ['missing', 'empty', 'truncated', 'random bytes'] as const;

/** JSON presets of the four commands that read them. */
const presetCommands: Array<{
  command: string;
  args: (file: string, out: string) => string[];
  valid: Record<string, unknown>;
  inf: Record<string, unknown>;
  shapes: Record<string, unknown>;
}> = [
  {
    command: 'train --config',
    args: (f, out) => ['train', '--config', f, '--out', out],
    valid: { model: 'lenet300', epochs: 1 },
    inf: { model: 'lenet300', epochs: 1, optimizer: { type: 'sgd', lr: 1e999 } },
    shapes: { model: 'lenet300', epochs: [1, 2] },
  },
  {
    command: 'irp --config',
    args: (f, out) => ['irp', '--config', f, '--out', out],
    valid: { model: 'lenet300', rounds: 1 },
    inf: { model: 'lenet300', rounds: 1, temperature: 1e999 },
    shapes: { model: 'lenet300', rounds: { n: 1 } },
  },
  {
    command: 'run',
    args: (f, out) => ['run', f, '--out', out],
    valid: { irp: { model: 'lenet300' }, autos: {}, prune: { model: 'lenet5', criteria: ['snip'], sparsities: [0.9] } },
    inf: {
      irp: { model: 'lenet300' },
      autos: {},
      prune: { model: 'lenet5', criteria: ['snip'], sparsities: [0.9], train: { optimizer: { type: 'sgd', lr: 1e999 } } },
    },
    shapes: { irp: { model: 'lenet300' }, autos: {}, prune: { model: 'lenet5', criteria: 'snip', sparsities: [[0.9]] } },
  },
  {
    command: 'sweep',
    args: (f, out) => ['sweep', f, '--out', out],
    valid: { targets: [{ model: 'lenet300' }], criteria: ['random'], densities: [0.5] },
    inf: { targets: [{ model: 'lenet300' }], criteria: ['random'], densities: [1e999] },
    shapes: { targets: { model: 'lenet300' }, criteria: ['random'], densities: [0.5] },
  },
];

const cases: Case[] = [];

for (const p of presetCommands) {
  const preset = (dir: string, value: unknown) => {
    const f = path.join(dir, 'preset.json');
    fs.writeFileSync(f, typeof value === 'string' ? value : JSON.stringify(value));
    return f;
  };
  for (const how of GENERIC) {
    cases.push({
      kind: 'JSON preset',
      command: p.command,
      corruption: how,
      make: (_fx, dir, out) => {
        const f = preset(dir, p.valid);
        corrupt(f, how);
        return p.args(f, out);
      },
      says: how === 'missing' ? /not found/ : /not valid JSON/,
    });
  }
  cases.push({
    kind: 'JSON preset',
    command: p.command,
    corruption: 'wrong schema',
    make: (_fx, dir, out) => p.args(preset(dir, { ...p.valid, bogus: 1 }), out),
    says: /bogus|unrecognized|unknown/i,
  });
  cases.push({
    kind: 'JSON preset',
    command: p.command,
    corruption: 'wrong shapes',
    make: (_fx, dir, out) => p.args(preset(dir, p.shapes), out),
    says: /expected|must/i,
  });
  cases.push({
    kind: 'JSON preset',
    command: p.command,
    corruption: 'NaN/Inf',
    make: (_fx, dir, out) => p.args(preset(dir, JSON.stringify(p.inf).replace('1e+999', '1e999').replace('null', '1e999')), out),
    says: /finite|Infinity|must|outside|expected/i,
  });
}

// Mask files: train --mask.
const maskArgs = (f: string, out: string, width = '0.25') => [
  'train',
  ...TINY_TRAIN.map((a, i, all) => (all[i - 1] === '--width' ? width : a)),
  '--mask',
  f,
  '--out',
  out,
];
for (const how of GENERIC) {
  cases.push({
    kind: 'mask file',
    command: 'train --mask',
    corruption: how,
    make: (fx, dir, out) => {
      const f = copy(fx.masks, path.join(dir, 'masks.arrow'));
      corrupt(f, how);
      return maskArgs(f, out);
    },
    says: how === 'missing' ? /masks\.arrow.*(not found|ENOENT)/ : /masks\.arrow/,
  });
}
cases.push({
  kind: 'mask file',
  command: 'train --mask',
  corruption: 'wrong schema',
  make: (fx, dir, out) => {
    const f = copy(fx.masks, path.join(dir, 'masks.arrow'));
    editArrow(f, withoutColumn('bits'));
    return maskArgs(f, out);
  },
  says: /bits/,
});
cases.push({
  kind: 'mask file',
  command: 'train --mask',
  corruption: 'wrong shapes',
  make: (fx, _dir, out) => maskArgs(fx.masks, out, '0.5'),
  says: /shape|mask/,
});

// Survival tables: prune --criterion lottery --table, fit-autos --table.
const tableCommands = [
  {
    command: 'prune --criterion lottery',
    args: lotteryArgs,
    poison: 'final_score',
  },
  {
    command: 'fit-autos --table',
    args: (f: string, out: string) => ['fit-autos', '--table', f, '--hidden', '4', '--epochs', '1', '--out', out],
    poison: 'theta',
  },
];
for (const t of tableCommands) {
  for (const how of GENERIC) {
    cases.push({
      kind: 'Arrow survival table',
      command: t.command,
      corruption: how,
      make: (fx, dir, out) => {
        const f = copy(fx.survival, path.join(dir, 'survival.arrow'));
        corrupt(f, how);
        return t.args(f, out);
      },
      says: /survival\.arrow/,
    });
  }
  cases.push({
    kind: 'Arrow survival table',
    command: t.command,
    corruption: 'wrong schema',
    make: (fx, dir, out) => {
      const f = copy(fx.survival, path.join(dir, 'survival.arrow'));
      editArrow(f, withoutColumn(t.poison === 'theta' ? 'rounds_survived' : 'rounds_survived'));
      return t.args(f, out);
    },
    says: /rounds_survived/,
  });
  cases.push({
    kind: 'Arrow survival table',
    command: t.command,
    corruption: 'wrong shapes',
    make: (fx, dir, out) => {
      const f = copy(fx.survival, path.join(dir, 'survival.arrow'));
      if (t.command.startsWith('prune')) return (t.args as (f: string, o: string, w: string) => string[])(f, out, '0.5');
      editArrow(f, (tab) => {
        const layers = JSON.parse(tab.schema.metadata.get('layers')!);
        layers[0].shape = [layers[0].shape[0] + 1, layers[0].shape[1]];
        tab.schema.metadata.set('layers', JSON.stringify(layers));
        return tab;
      });
      return t.args(f, out);
    },
    says: /width|rows|shape/,
  });
  cases.push({
    kind: 'Arrow survival table',
    command: t.command,
    corruption: 'NaN/Inf',
    make: (fx, dir, out) => {
      const f = copy(fx.survival, path.join(dir, 'survival.arrow'));
      editArrow(f, poisonColumn(t.poison, Number.NaN));
      return t.args(f, out);
    },
    says: /NaN/,
  });
}

// AutoS model directories: prune --criterion autos --autos.
const autosArgs = (d: string, out: string) => [
  'prune',
  '--criterion',
  'autos',
  '--autos',
  d,
  '--model',
  'lenet300',
  '--width',
  '0.25',
  '--samples-per-class',
  '2',
  '--density',
  '0.1',
  '--out',
  out,
];
const autosCase = (corruption: Corruption, edit: (d: string) => void, says: RegExp) =>
  cases.push({
    kind: 'AutoS model dir',
    command: 'prune --criterion autos',
    corruption,
    make: (fx, dir, out) => {
      const d = copy(fx.autos, path.join(dir, 'autos'));
      edit(d);
      return autosArgs(d, out);
    },
    says,
  });
autosCase('missing', (d) => fs.rmSync(d, { recursive: true }), /autos/);
autosCase('empty', (d) => (fs.rmSync(d, { recursive: true }), fs.mkdirSync(d)), /autos\.json/);
autosCase('truncated', (d) => halve(path.join(d, 'weights.safetensors')), /weights\.safetensors/);
autosCase('random bytes', (d) => randomize(path.join(d, 'weights.safetensors')), /weights\.safetensors/);
autosCase(
  'wrong schema',
  (d) => fs.writeFileSync(path.join(d, 'autos.json'), JSON.stringify({ format: 'pipeline-autos-v1', features: ['theta'] })),
  /autos\.json/,
);
autosCase(
  'wrong shapes',
  (d) =>
    editSafetensors(
      path.join(d, 'weights.safetensors'),
      (t) => (t['layer0.w'] = { ...t['layer0.w'], shape: [t['layer0.w'].shape[1], t['layer0.w'].shape[0]] }),
    ),
  /shape|width|layer/,
);
autosCase('NaN/Inf', (d) => editSafetensors(path.join(d, 'weights.safetensors'), (t) => (t['layer1.b'].data[0] = Number.POSITIVE_INFINITY)), /NaN|Inf/);

// Checkpoints (safetensors): train --resume.
const checkpointCase = (corruption: Corruption, edit: (file: string) => void, says: RegExp) =>
  cases.push({
    kind: 'safetensors file',
    command: 'train --resume',
    corruption,
    make: (fx, dir) => {
      const d = copy(fx.trainDir, path.join(dir, 'train'));
      edit(path.join(d, 'checkpoint.safetensors'));
      return fx.trainArgs.map((a) => (a === fx.trainDir ? d : a));
    },
    says,
  });
// A run killed before its first checkpoint has none: --resume then starts it, which is no error. The
// missing safetensors case is the AutoS model's weights file.
cases.push({
  kind: 'safetensors file',
  command: 'prune --criterion autos',
  corruption: 'missing',
  make: (fx, dir, out) => {
    const d = copy(fx.autos, path.join(dir, 'autos'));
    fs.rmSync(path.join(d, 'weights.safetensors'));
    return autosArgs(d, out);
  },
  says: /weights\.safetensors/,
});
for (const how of ['empty', 'truncated', 'random bytes'] as const) checkpointCase(how, (f) => corrupt(f, how), /checkpoint\.safetensors.*--force/);
checkpointCase('wrong schema', (f) => editSafetensors(f, (t) => delete t[Object.keys(t).find((k) => !k.includes('.'))!]), /missing|--force/);
checkpointCase(
  'wrong shapes',
  (f) =>
    editSafetensors(f, (t) => {
      const w = firstF32(t);
      w.shape = [w.data.length];
    }),
  /shape/,
);
checkpointCase('NaN/Inf', (f) => editSafetensors(f, (t) => (firstF32(t).data[0] = Number.NaN)), /NaN/);

// MNIST IDX files and CIFAR-10 batches: train --dataset.
const idxArgs = (d: string, out: string) => ['train', ...TINY_TRAIN, '--dataset', 'mnist-idx', '--data-dir', d, '--out', out];
const idxCase = (corruption: Corruption, edit: (d: string) => void, says: RegExp) =>
  cases.push({
    kind: 'IDX',
    command: 'train --dataset mnist-idx',
    corruption,
    make: (fx, dir, out) => {
      const d = copy(fx.idxDir, path.join(dir, 'idx'));
      edit(d);
      return idxArgs(d, out);
    },
    says,
  });
const images = (d: string) => path.join(d, 'train-images-idx3-ubyte');
const labels = (d: string) => path.join(d, 'train-labels-idx1-ubyte');
for (const how of GENERIC) idxCase(how, (d) => corrupt(images(d), how), /mnist-idx.*train-images/);
idxCase('wrong schema', (d) => fs.copyFileSync(labels(d), images(d)), /magic/);
idxCase(
  'wrong shapes',
  (d) => {
    const b = fs.readFileSync(labels(d));
    b.writeUInt32BE(19, 4);
    fs.writeFileSync(labels(d), b.subarray(0, b.length - 1));
  },
  /20 images but .* 19 labels/,
);
idxCase(
  'NaN/Inf',
  (d) => {
    const b = fs.readFileSync(labels(d));
    b[9] = 12;
    fs.writeFileSync(labels(d), b);
  },
  /label 12/,
);

const cifarArgs = (d: string, out: string) => ['train', ...TINY_TRAIN, '--dataset', 'cifar10', '--data-dir', d, '--out', out];
const cifarCase = (corruption: Corruption, edit: (file: string) => void, says: RegExp) =>
  cases.push({
    kind: 'CIFAR',
    command: 'train --dataset cifar10',
    corruption,
    make: (fx, dir, out) => {
      const d = copy(fx.cifarDir, path.join(dir, 'cifar'));
      edit(path.join(d, 'cifar-10-batches-bin', 'data_batch_1.bin'));
      return cifarArgs(d, out);
    },
    says,
  });
for (const how of GENERIC)
  cifarCase(how, (f) => (how === 'truncated' ? fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 3073 * 5 + 1000)) : corrupt(f, how)), /cifar10/);
cifarCase('wrong schema', (f) => fs.writeFileSync(f, Buffer.alloc(3074 * 10)), /record|truncated|damaged/); // CIFAR-100's 2 label bytes per record
cifarCase('wrong shapes', (f) => fs.appendFileSync(f, Buffer.alloc(100)), /truncated|damaged/);
cifarCase(
  'NaN/Inf',
  (f) => {
    const b = fs.readFileSync(f);
    b[3073] = 11;
    fs.writeFileSync(f, b);
  },
  /label 11/,
);

function listTree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe('bad input: one line, exit 2, nothing written', () => {
  let fx: Fixtures;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-bad-input-'));
  beforeAll(async () => {
    fx = await makeFixtures(path.join(root, 'fixtures'));
  }, 120_000);

  it('covers every kind × corruption it claims', () => {
    const kinds = new Set(cases.map((c) => c.kind));
    expect(new Set(kinds)).toEqual(new Set(['AutoS model dir', 'Arrow survival table', 'CIFAR', 'IDX', 'JSON preset', 'mask file', 'safetensors file']));
    for (const kind of kinds) {
      const have = new Set(cases.filter((c) => c.kind === kind).map((c) => c.corruption));
      const expected = kind === 'mask file' ? 6 : 7; // a mask holds bits: no NaN/Inf
      expect(have.size, kind).toBe(expected);
    }
  });

  it.each(cases.map((c, i) => [`${c.command} · ${c.kind} · ${c.corruption}`, i] as const))('%s', { timeout: 20_000 }, async (_name, i) => {
    const c = cases[i];
    const dir = fs.mkdtempSync(path.join(root, 'case-'));
    const out = path.join(dir, 'out');
    const args = c.make(fx, dir, out);
    const before = listTree(dir);
    const cwdRuns = listTree('runs');
    const r = await cliInProcess(...args);
    expect(r.status, r.stderr.slice(0, 500)).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^pipeline: /);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.stderr).not.toMatch(/internal error|TypeError|undefined/);
    expect(r.stderr).toMatch(c.says);
    expect(fs.existsSync(out), 'no output directory').toBe(false);
    expect(listTree(dir), 'nothing new in the inputs').toEqual(before);
    expect(listTree('runs'), 'nothing new in ./runs').toEqual(cwdRuns);
  });
});
