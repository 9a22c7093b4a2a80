/**
 * Small valid input files of every kind the CLI reads, made once per test file in a temp directory:
 * a survival table, an AutoS model directory, a mask file, a train checkpoint (through the CLI, in
 * process), MNIST IDX files and CIFAR-10 binary batches (a few records, written here).
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { writeSurvivalTable } from '../../src/irp/table.ts';
import { createModel } from '../../src/models/index.ts';
import { Rng } from '../../src/util/rng.ts';
import { cliInProcess } from './in-process-cli.ts';

export interface Fixtures {
  root: string;
  survival: string;
  autos: string;
  masks: string;
  /** A train run directory with an unfinished run's checkpoint.safetensors (DONE removed) and its flags. */
  trainDir: string;
  trainArgs: string[];
  idxDir: string;
  cifarDir: string;
}

export const TINY_TRAIN = ['--model', 'lenet300', '--width', '0.25', '--epochs', '1', '--steps', '2', '--batch-size', '32'];

async function ok(...args: string[]): Promise<void> {
  const r = await cliInProcess(...args);
  expect(r.status, r.stderr).toBe(0);
}

function idx(magic: number, dims: number[], data: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, data]);
}

export function writeIdx(dir: string, n = 20): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const split of ['train', 't10k']) {
    fs.writeFileSync(
      path.join(dir, `${split}-images-idx3-ubyte`),
      idx(
        0x803,
        [n, 28, 28],
        new Uint8Array(n * 784).map((_, i) => (i * 7) % 256),
      ),
    );
    fs.writeFileSync(
      path.join(dir, `${split}-labels-idx1-ubyte`),
      idx(
        0x801,
        [n],
        new Uint8Array(n).map((_, i) => i % 10),
      ),
    );
  }
}

export function writeCifar(dir: string, records = 10): void {
  const folder = path.join(dir, 'cifar-10-batches-bin');
  fs.mkdirSync(folder, { recursive: true });
  const batch = () => {
    const b = new Uint8Array(records * 3073).map((_, i) => (i * 13) % 256);
    for (let r = 0; r < records; r++) b[r * 3073] = r % 10;
    return b;
  };
  for (const f of ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'])
    fs.writeFileSync(path.join(folder, f), batch());
}

/** A survival table of lenet300 at width 0.25 as `pipeline irp` writes it, from seeded synthetic features (no training). */
export function writeSyntheticSurvivalTable(file: string): void {
  const model = createModel('lenet300', { width: 0.25 });
  const rng = new Rng(3);
  const per = () => new Map(model.prunable.map((p) => [p.name, Float32Array.from({ length: p.size }, () => rng.next() - 0.5)]));
  const features = { theta: per(), grad: per(), hg: per() };
  const survived = new Map(model.prunable.map((p) => [p.name, Uint8Array.from({ length: p.size }, () => Math.floor(rng.next() * 3))]));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeSurvivalTable(file, model, features, survived, per(), 2, {
    format: 'pipeline-survival-v1',
    model: 'lenet300',
    width: 0.25,
    dataset: 'mnist',
    criterion: 'magnitude',
    schedule: 'equal-count',
    densities: [0.7, 0.5],
    seed: 0,
    backend: 'cpu',
    feature_bn_mode: 'eval',
    temperature: 200,
    samples_per_class: 10,
    rewind: 'init',
  });
}

export async function makeFixtures(root: string): Promise<Fixtures> {
  const irp = path.join(root, 'irp');
  writeSyntheticSurvivalTable(path.join(irp, 'survival.arrow'));
  const autos = path.join(root, 'autos');
  await ok('fit-autos', '--table', path.join(irp, 'survival.arrow'), '--hidden', '8', '--epochs', '1', '--max-rows-per-tensor', '2000', '--out', autos);
  const prune = path.join(root, 'prune');
  await ok(...dataFreePruneArgs('random', prune, { density: '0.5' }));
  const trainDir = path.join(root, 'train');
  const trainArgs = ['train', ...TINY_TRAIN, '--out', trainDir, '--resume'];
  await ok('train', ...TINY_TRAIN, '--out', trainDir);
  fs.rmSync(path.join(trainDir, 'DONE')); // as if killed after its checkpoint: --resume reads it
  const idxDir = path.join(root, 'idx');
  writeIdx(idxDir);
  const cifarDir = path.join(root, 'cifar');
  writeCifar(cifarDir);
  return { root, survival: path.join(irp, 'survival.arrow'), autos, masks: path.join(prune, 'masks.arrow'), trainDir, trainArgs, idxDir, cifarDir };
}

/** `prune` of lenet300 (width 0.25 unless given) without data (28×28×1 inputs, 10 classes) into `out`. */
export const dataFreePruneArgs = (criterion: string, out: string, opts: { width?: string; density?: string; more?: string[] } = {}) => [
  'prune',
  '--criterion',
  criterion,
  ...(opts.more ?? []),
  '--model',
  'lenet300',
  '--width',
  opts.width ?? '0.25',
  '--dataset',
  'none',
  '--input-shape',
  '28,28,1',
  '--classes',
  '10',
  '--density',
  opts.density ?? '0.1',
  '--out',
  out,
];

/** `prune --criterion lottery` on a survival table of lenet300 (width 0.25), data-free, into `out`. */
export const lotteryArgs = (table: string, out: string, width = '0.25') => dataFreePruneArgs('lottery', out, { width, more: ['--table', table] });
