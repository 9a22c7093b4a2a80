// Our output files read by implementations that share no code with ours: every Arrow file we write
// (masks, survival tables, score dumps, results) by Polars (Rust, via nodejs-polars), and every
// safetensors file by a byte-level reader written here from the format's specification. Expected
// values come from the inputs, never from our own readers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import pl from 'nodejs-polars';
import { describe, expect, it } from 'vitest';
import { writeSurvivalTable } from '../../src/irp/table.ts';
import { saveSafetensors } from '../../src/io/safetensors.ts';
import { createModel } from '../../src/models/index.ts';
import { writeMaskFile } from '../../src/masks/mask-file.ts';
import { writeScoreTable } from '../../src/scoring/score-table.ts';
import { type ResultRow, resultsTable } from '../../src/report/results.ts';
import { writeArrowFile } from '../../src/io/arrow.ts';
import { saveCheckpoint } from '../../src/train/checkpoint.ts';
import { safetensorsSample } from './fixtures/safetensors-sample.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'independent-'));
const polars = (file: string) => pl.readIPC(fs.readFileSync(file)); // the bytes: a path must end in .ipc
const dtypes = (df: pl.DataFrame) => Object.fromEntries(Object.entries(df.schema).map(([k, v]) => [k, String(v).replace(/^DataType\((.*)\)$/, '$1')]));

/** Deterministic float32 values with signs, tiny and huge magnitudes. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    out[i] = ((s / 2 ** 31 - 0.5) * 10 ** ((i % 7) - 3)) as number;
  }
  return out;
}

// lenet300 at width 0.02: three small dense layers
const model = createModel('lenet300', { width: 0.02 });
const layerOf = (i: number) => model.prunable[i]!;
const features = {
  theta: new Map(model.prunable.map((p, i) => [p.name, values(p.size, 1 + i)])),
  grad: new Map(model.prunable.map((p, i) => [p.name, values(p.size, 11 + i)])),
  hg: new Map(model.prunable.map((p, i) => [p.name, values(p.size, 21 + i)])),
};
const keep = new Map(model.prunable.map((p) => [p.name, Uint8Array.from({ length: p.size }, (_, i) => Number(i % 3 === 0))]));

/** The per-weight columns of a table written one record batch per tensor, as Polars concatenates them. */
function perWeight(column: (name: string) => ArrayLike<number>): number[] {
  return model.prunable.flatMap((p) => Array.from(column(p.name)));
}

describe('Arrow files, read by Polars', () => {
  it('masks.arrow: layer, shape, kept and the bits packed LSB first', () => {
    const file = path.join(tmp(), 'masks.arrow');
    const shapes = new Map(model.prunable.map((p) => [p.name, p.shape]));
    writeMaskFile(file, keep, shapes, { criterion: 'snip' });
    const df = polars(file);
    expect(df.columns).toEqual(['layer', 'shape', 'kept', 'bits']);
    const rows = df.select(pl.col('layer'), pl.col('shape'), pl.col('kept'), pl.col('bits').cast(pl.List(pl.UInt8))).toRecords();
    expect(rows).toHaveLength(model.prunable.length);
    rows.forEach((r, i) => {
      const p = layerOf(i);
      const bits = keep.get(p.name)!;
      const packed = new Array(Math.ceil(bits.length / 8)).fill(0);
      bits.forEach((b, j) => (packed[Math.floor(j / 8)] += b * 2 ** (j % 8)));
      expect(r).toEqual({ layer: p.name, shape: p.shape, kept: bits.filter((b) => b === 1).length, bits: packed });
    });
    expect(dtypes(df.select('layer', 'shape', 'kept'))).toEqual({ layer: 'String', shape: 'List(DataType(Int32))', kept: 'Int32' });
  });

  it('survival.arrow: every column of every weight, one batch per tensor', () => {
    const file = path.join(tmp(), 'survival.arrow');
    const survived = new Map(model.prunable.map((p) => [p.name, Uint8Array.from({ length: p.size }, (_, i) => (i * 7) % 11)]));
    const finals = new Map(model.prunable.map((p, i) => [p.name, values(p.size, 31 + i)]));
    writeSurvivalTable(file, model, features, survived, finals, 10, { model: 'lenet300' });
    const df = polars(file);
    expect(df.columns).toEqual(['layer', 'index', 'theta', 'grad', 'hg', 'rounds_survived', 'score', 'final_score']);
    expect(dtypes(df)).toMatchObject({
      index: 'Int32',
      theta: 'Float32',
      grad: 'Float32',
      hg: 'Float32',
      rounds_survived: 'UInt8',
      score: 'Float32',
      final_score: 'Float32',
    });
    expect(df.height).toBe(model.prunable.reduce((n, p) => n + p.size, 0));
    expect(df.getColumn('layer').cast(pl.Utf8).toArray()).toEqual(model.prunable.flatMap((p) => new Array(p.size).fill(p.name)));
    expect(Array.from(df.getColumn('index').toArray())).toEqual(model.prunable.flatMap((p) => Array.from({ length: p.size }, (_, i) => i)));
    for (const c of ['theta', 'grad', 'hg'] as const)
      expect(Array.from(df.getColumn(c).toTypedArray() as Float32Array), c).toEqual(perWeight((n) => features[c].get(n)!));
    expect(Array.from(df.getColumn('rounds_survived').toArray())).toEqual(perWeight((n) => survived.get(n)!));
    expect(Array.from(df.getColumn('score').toTypedArray() as Float32Array)).toEqual(perWeight((n) => Float32Array.from(survived.get(n)!, (v) => v / 10)));
    expect(Array.from(df.getColumn('final_score').toTypedArray() as Float32Array)).toEqual(perWeight((n) => finals.get(n)!));
  });

  it('scores.arrow (--dump-scores): the per-weight columns plus score and kept', () => {
    const file = path.join(tmp(), 'scores.arrow');
    const scores = new Map(model.prunable.map((p, i) => [p.name, values(p.size, 41 + i)]));
    writeScoreTable(file, model, features, scores, keep, { criterion: 'snip' });
    const df = polars(file);
    expect(df.columns).toEqual(['layer', 'index', 'theta', 'grad', 'hg', 'score', 'kept']);
    expect(dtypes(df)).toMatchObject({ score: 'Float32', kept: 'UInt8' });
    expect(Array.from(df.getColumn('theta').toTypedArray() as Float32Array)).toEqual(perWeight((n) => features.theta.get(n)!));
    expect(Array.from(df.getColumn('score').toTypedArray() as Float32Array)).toEqual(perWeight((n) => scores.get(n)!));
    expect(Array.from(df.getColumn('kept').toArray())).toEqual(perWeight((n) => keep.get(n)!));
  });

  it('results.arrow: the documented columns, nulls where a job was not trained', () => {
    const file = path.join(tmp(), 'results.arrow');
    const rows: ResultRow[] = [
      {
        target: 'lenet5/mnist',
        criterion: 'dense',
        epochs: 5,
        steps: null,
        sparsity: 0,
        density: 1,
        param_density: 1,
        effective_density: 1,
        seed: 0,
        accuracy: 0.989,
        loss: 0.04,
        grad_norm_ratio: 1,
        min_layer_kept: 150,
        wall_seconds: 30.5,
      },
      {
        target: 'lenet5/mnist',
        criterion: 'autos@snip',
        epochs: null,
        steps: null,
        sparsity: 0.98,
        density: 0.02,
        param_density: 0.0201,
        effective_density: null,
        seed: 3,
        accuracy: null,
        loss: null,
        grad_norm_ratio: 0.25,
        min_layer_kept: null,
        wall_seconds: 2,
      },
    ];
    writeArrowFile(file, resultsTable(rows));
    const df = polars(file);
    expect(df.columns).toEqual([
      'target',
      'criterion',
      'epochs',
      'steps',
      'sparsity',
      'density',
      'param_density',
      'effective_density',
      'seed',
      'accuracy',
      'loss',
      'grad_norm_ratio',
      'min_layer_kept',
      'wall_seconds',
    ]);
    expect(dtypes(df)).toEqual({
      target: 'String',
      criterion: 'String',
      epochs: 'Int32',
      steps: 'Int32',
      sparsity: 'Float64',
      density: 'Float64',
      param_density: 'Float64',
      effective_density: 'Float64',
      seed: 'Int32',
      accuracy: 'Float64',
      loss: 'Float64',
      grad_norm_ratio: 'Float64',
      min_layer_kept: 'Int32',
      wall_seconds: 'Float64',
    });
    expect(df.toRecords()).toEqual(rows);
  });
});

/** A safetensors reader from the specification (huggingface/safetensors README), sharing nothing with src/io. */
function readSafetensorsBySpec(file: string): {
  metadata: Record<string, string>;
  tensors: Record<string, { dtype: string; shape: number[]; values: Array<number | bigint> }>;
} {
  const bytes = fs.readFileSync(file);
  const n = bytes.readBigUInt64LE(0); // 8 bytes: unsigned little-endian 64-bit header size
  expect(n).toBeLessThan(100_000_000n);
  const headerText = bytes.subarray(8, 8 + Number(n)).toString('utf8');
  expect(headerText.startsWith('{')).toBe(true); // "The header data MUST begin with a {"
  expect(headerText).toMatch(/^[^]*\}\s*$/); // may be padded with whitespace (0x20)
  const header = JSON.parse(headerText) as Record<string, unknown>;
  const buffer = bytes.subarray(8 + Number(n));
  const size: Record<string, number> = { F64: 8, F32: 4, I64: 8, I32: 4, U8: 1 };
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  for (const v of Object.values(metadata)) expect(typeof v).toBe('string');
  const spans: Array<[number, number]> = [];
  const tensors: ReturnType<typeof readSafetensorsBySpec>['tensors'] = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const {
      dtype,
      shape,
      data_offsets: [begin, end],
    } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const count = shape.reduce((a, b) => a * b, 1);
    expect(end - begin, `${name}: bytes for its shape and dtype`).toBe(count * size[dtype]!);
    spans.push([begin, end]);
    const view = new DataView(buffer.buffer, buffer.byteOffset + begin, end - begin);
    const at = (i: number): number | bigint =>
      dtype === 'F32'
        ? view.getFloat32(4 * i, true)
        : dtype === 'F64'
          ? view.getFloat64(8 * i, true)
          : dtype === 'I32'
            ? view.getInt32(4 * i, true)
            : dtype === 'I64'
              ? view.getBigInt64(8 * i, true)
              : view.getUint8(i);
    tensors[name] = { dtype, shape, values: Array.from({ length: count }, (_, i) => at(i)) };
  }
  // "The byte buffer needs to be entirely indexed, and cannot contain holes": the spans tile it.
  spans.sort((a, b) => a[0] - b[0]);
  let next = 0;
  for (const [b, e] of spans) {
    expect(b).toBe(next);
    next = e;
  }
  expect(next).toBe(buffer.length);
  return { metadata, tensors };
}

describe('safetensors files, read from the specification', () => {
  it('every dtype we write, shapes, metadata and values', () => {
    const file = path.join(tmp(), 'x.safetensors');
    const sample = safetensorsSample();
    saveSafetensors(file, sample, { format: 'pt', note: 'ünïcode ✓' });
    const read = readSafetensorsBySpec(file);
    expect(read.metadata).toEqual({ format: 'pt', note: 'ünïcode ✓' });
    expect(Object.keys(read.tensors).sort()).toEqual(Object.keys(sample).sort());
    for (const [name, t] of Object.entries(sample)) {
      expect(read.tensors[name], name).toEqual({ dtype: t.dtype, shape: t.shape, values: Array.from(t.data as ArrayLike<number | bigint>) });
    }
  });

  it('a training checkpoint: parameters, optimizer slots, masks and resume metadata', async () => {
    const file = path.join(tmp(), 'checkpoint.safetensors');
    const w = values(6, 51);
    const m = values(6, 52);
    const params = { 'fc.weight': tf.tensor(w, [2, 3]) };
    await saveCheckpoint(file, {
      params,
      optimizer: { t: 4, slots: { momentum: { 'fc.weight': tf.tensor(m, [2, 3]) } } },
      masks: new Map([['fc.weight', Uint8Array.of(1, 0, 1, 1, 0, 1)]]),
      epoch: 2,
      step: 40,
      configHash: 'abc',
    });
    const read = readSafetensorsBySpec(file);
    expect(read.metadata).toMatchObject({ epoch: '2', step: '40', optimizer_t: '4', config_hash: 'abc' });
    expect(read.tensors['fc.weight']).toEqual({ dtype: 'F32', shape: [2, 3], values: Array.from(w) });
    expect(read.tensors['optimizer.momentum.fc.weight']).toEqual({ dtype: 'F32', shape: [2, 3], values: Array.from(m) });
    expect(read.tensors['mask.fc.weight']).toEqual({ dtype: 'U8', shape: [6], values: [1, 0, 1, 1, 0, 1] });
  });
});
