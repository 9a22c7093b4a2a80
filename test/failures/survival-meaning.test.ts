/**
 * Survival tables valid as Arrow files but wrong in meaning — rounds beyond the table's own count,
 * scores outside [0, 1], a round count that is no count, tensors the metadata does not list (or lists
 * without rows), rows in another tensor order than the model's — each refused by `fit-autos --table`
 * and `prune --criterion lottery` with one line naming the file and the problem (exit 2, nothing
 * written). Rows and values are drawn at random (seeded), so each run tries the same 24 corruptions.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/util/rng.ts';
import { lotteryArgs, writeSyntheticSurvivalTable } from './fixtures.ts';
import { cliInProcess, STACK_TRACE } from './in-process-cli.ts';

type Command = 'fit-autos' | 'lottery';
interface Corruption {
  what: string;
  /** The commands that read what it breaks. */
  commands: Command[];
  edit: (t: Table, rng: Rng) => Table;
  says: RegExp;
}

const ROUNDS = 2; // the fixture's IRP rounds
const rowOf = (t: Table, rng: Rng) => {
  const b = Math.floor(rng.next() * t.batches.length);
  return { batch: t.batches[b]!, row: Math.floor(rng.next() * t.batches[b]!.numRows) };
};
const values = <T>(t: Table, name: string, batch: (typeof t.batches)[number]) => batch.getChild(name)!.data[0]!.values as T;

const CORRUPTIONS: Corruption[] = [
  {
    what: 'rounds_survived beyond the rounds',
    commands: ['fit-autos', 'lottery'],
    edit: (t, rng) => {
      const { batch, row } = rowOf(t, rng);
      values<Uint8Array>(t, 'rounds_survived', batch)[row] = ROUNDS + 1 + Math.floor(rng.next() * (255 - ROUNDS));
      return t;
    },
    says: /row \d+ \(\S+\) survived \d+ rounds of the table's 2/,
  },
  {
    what: 'score outside [0, 1]',
    commands: ['fit-autos'],
    edit: (t, rng) => {
      const { batch, row } = rowOf(t, rng);
      values<Float32Array>(t, 'score', batch)[row] = rng.next() < 0.5 ? -0.25 : 1 + rng.next();
      return t;
    },
    says: /row \d+ \(\S+\) has score -?[\d.]+, outside \[0, 1\]/,
  },
  {
    what: "a 'rounds' metadata that is no round count",
    commands: ['fit-autos', 'lottery'],
    edit: (t, rng) => {
      const bad = ['0', '-1', '2.5', 'two', '256'][Math.floor(rng.next() * 5)]!;
      t.schema.metadata.set('rounds', bad);
      return t;
    },
    says: /metadata 'rounds' is '[^']*', not a round count in 1…255/,
  },
  {
    what: "a tensor renamed in the 'layers' metadata",
    commands: ['fit-autos'],
    edit: (t, rng) => {
      const layers = JSON.parse(t.schema.metadata.get('layers')!) as Array<{ name: string }>;
      layers[Math.floor(rng.next() * layers.length)]!.name = 'renamed';
      t.schema.metadata.set('layers', JSON.stringify(layers));
      return t;
    },
    says: /rows of tensor '\S+' but no such tensor in its 'layers' metadata/,
  },
  {
    what: "a tensor of the 'layers' metadata with no rows",
    commands: ['fit-autos'],
    edit: (t, rng) => {
      const layers = JSON.parse(t.schema.metadata.get('layers')!) as unknown[];
      layers.splice(Math.floor(rng.next() * (layers.length + 1)), 0, {
        name: 'extra',
        kind: 'dense',
        shape: [2, 2],
        fan_in: 2,
        fan_out: 2,
        kernel_size: 1,
        depth: 0,
      });
      t.schema.metadata.set('layers', JSON.stringify(layers));
      return t;
    },
    says: /tensor 'extra' of its 'layers' metadata has no rows/,
  },
  {
    what: "rows in another tensor order than the model's",
    commands: ['lottery'],
    edit: (t, rng) => {
      const order = t.batches.map((_, i) => i);
      const i = Math.floor(rng.next() * order.length);
      const j = (i + 1 + Math.floor(rng.next() * (order.length - 1))) % order.length;
      [order[i], order[j]] = [order[j]!, order[i]!];
      return new Table(
        t.schema,
        order.map((k) => t.batches[k]!),
      );
    },
    says: /row \d+ belongs to '\S+' where lenet300's weights put '\S+'/,
  },
];

const args = (command: Command, table: string, out: string) =>
  command === 'fit-autos' ? ['fit-autos', '--table', table, '--hidden', '4', '--epochs', '1', '--out', out] : lotteryArgs(table, out);

describe('survival tables wrong in meaning: one line, exit 2, nothing written', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-survival-meaning-'));
  const clean = path.join(root, 'survival.arrow');
  writeSyntheticSurvivalTable(clean);
  const rng = new Rng(2026);
  const cases = CORRUPTIONS.flatMap((c) => c.commands.flatMap((command) => [0, 1, 2].map((k) => ({ c, command, k, seed: Math.floor(rng.next() * 2 ** 31) }))));

  it('tries 24 corruptions', () => expect(cases).toHaveLength(24));

  it.each(cases.map((x, i) => [`${x.command} · ${x.c.what} #${x.k}`, i] as const))('%s', { timeout: 20_000 }, async (_name, i) => {
    const { c, command, seed } = cases[i]!;
    const dir = fs.mkdtempSync(path.join(root, 'case-'));
    const table = path.join(dir, 'survival.arrow');
    fs.writeFileSync(table, tableToIPC(c.edit(tableFromIPC(fs.readFileSync(clean)), new Rng(seed)), 'file'));
    const out = path.join(dir, 'out');
    const r = await cliInProcess(...args(command, table, out));
    expect(r.status, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.stderr).toContain(table);
    expect(r.stderr).toMatch(c.says);
    expect(fs.existsSync(out)).toBe(false);
  });
});
