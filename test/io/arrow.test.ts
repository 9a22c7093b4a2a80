import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataType, Field, Float32, Int32, makeVector, Precision, Schema, tableFromArrays, Type } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import {
  metadataJson,
  openArrowFileWriter,
  readArrowBatches,
  readArrowFile,
  readArrowSchema,
  recordBatch,
  StringDictionary,
  toMetadata,
  writeArrowFile,
} from '../../src/io/arrow.ts';
import { UsageError } from '../../src/util/errors.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'arrow-test-'));

const columns = () => ({
  layer: ['conv1', 'conv1', 'fc', 'layer1.0.conv2', 'fc'],
  index: Int32Array.of(0, 1, 0, 7, -2147483648),
  score: Float32Array.of(0.1, -3.5e-20, Infinity, 1e30, -0),
  kept: Uint8Array.of(1, 0, 1, 255, 0),
});

describe('arrow files', () => {
  it('round-trips dictionary strings, int32, float32, uint8 and schema metadata exactly', () => {
    const path = join(tmp(), 'sub', 'survival.arrow');
    writeArrowFile(path, tableFromArrays(columns()), { kind: 'survival', config: { sparsity: 0.9, layers: ['fc'] } });
    expect(readdirSync(join(path, '..'))).toEqual(['survival.arrow']);

    const table = readArrowFile(path);
    const type = (name: string) => table.schema.fields.find((f) => f.name === name)!.type;
    expect(table.schema.fields.map((f) => f.name)).toEqual(['layer', 'index', 'score', 'kept']);
    expect(DataType.isDictionary(type('layer'))).toBe(true);
    expect(type('layer').dictionary.typeId).toBe(Type.Utf8);
    expect(type('layer').indices).toMatchObject({ typeId: Type.Int, bitWidth: 32, isSigned: true });
    expect(type('index')).toMatchObject({ typeId: Type.Int, bitWidth: 32, isSigned: true });
    expect(type('score')).toMatchObject({ typeId: Type.Float, precision: Precision.SINGLE });
    expect(type('kept')).toMatchObject({ typeId: Type.Int, bitWidth: 8, isSigned: false });
    expect(table.getChild('index')!.toArray()).toBeInstanceOf(Int32Array);
    expect(table.getChild('score')!.toArray()).toBeInstanceOf(Float32Array);
    expect(table.getChild('kept')!.toArray()).toBeInstanceOf(Uint8Array);

    const expected = columns();
    expect([...table.getChild('layer')!]).toEqual(expected.layer);
    expect(table.getChild('index')!.toArray()).toEqual(expected.index);
    expect(table.getChild('score')!.toArray()).toEqual(expected.score);
    expect(table.getChild('kept')!.toArray()).toEqual(expected.kept);

    expect(table.schema.metadata.get('kind')).toBe('survival');
    expect(metadataJson(table.schema.metadata, 'config')).toEqual({ sparsity: 0.9, layers: ['fc'] });
    expect(metadataJson(table.schema.metadata, 'absent')).toBeUndefined();
  });

  it('writes uncompressed buffers (the float32 column appears verbatim in the file)', () => {
    const path = join(tmp(), 'raw.arrow');
    const score = Float32Array.of(1.25, -7.5, 3.141592653589793, 42);
    writeArrowFile(path, tableFromArrays({ score }));
    const file = readFileSync(path);
    expect(file.subarray(0, 6).toString()).toBe('ARROW1');
    expect(file.indexOf(Buffer.from(score.buffer))).toBeGreaterThan(0);
  });

  it('streams batches sharing one dictionary; the file appears only on close', async () => {
    const path = join(tmp(), 'stream.arrow');
    const layers = new StringDictionary(['conv1', 'conv2', 'fc']);
    const schema = new Schema(
      [layers.field('layer'), new Field('step', new Int32(), false), new Field('score', new Float32(), false)],
      toMetadata({ model: 'lenet', steps: 3 }),
    );
    const writer = openArrowFileWriter(path, schema);
    for (let step = 0; step < 3; step++) {
      writer.write(
        recordBatch(schema, {
          layer: layers.encode(['conv1', 'fc', 'conv2'].slice(0, step + 1)),
          step: makeVector(new Int32Array(step + 1).fill(step)),
          score: makeVector(Float32Array.from({ length: step + 1 }, (_, i) => step + i / 4)),
        }),
      );
    }
    expect(writer.rows).toBe(6);
    expect(existsSync(path)).toBe(false);
    writer.close();
    expect(readdirSync(join(path, '..'))).toEqual(['stream.arrow']);

    const seen: { layer: string[]; step: number[]; score: number[] }[] = [];
    for await (const batch of readArrowBatches(path)) {
      seen.push({
        layer: [...batch.getChild('layer')!] as string[],
        step: [...batch.getChild('step')!.toArray()],
        score: [...batch.getChild('score')!.toArray()],
      });
    }
    expect(seen).toEqual([
      { layer: ['conv1'], step: [0], score: [0] },
      { layer: ['conv1', 'fc'], step: [1, 1], score: [1, 1.25] },
      { layer: ['conv1', 'fc', 'conv2'], step: [2, 2, 2], score: [2, 2.25, 2.5] },
    ]);
    const readSchema = await readArrowSchema(path);
    expect(readSchema.metadata.get('model')).toBe('lenet');
    expect(metadataJson(readSchema.metadata, 'steps')).toBe(3);
    expect(readArrowFile(path).numRows).toBe(6);
  });

  it('refuses a batch with another schema instead of silently ending the file', () => {
    const dir = tmp();
    const path = join(dir, 'x.arrow');
    const first = tableFromArrays({ layer: ['a'] });
    // Each tableFromArrays call makes a new dictionary type, so this schema differs from the first.
    const second = tableFromArrays({ layer: ['b'] });
    const writer = openArrowFileWriter(path, first.schema);
    writer.write(first);
    expect(() => writer.write(second)).toThrow(/does not match the file's schema.*StringDictionary/);
    writer.abort();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('writes and reads a file with no rows', async () => {
    const path = join(tmp(), 'empty.arrow');
    const schema = new Schema([new Field('score', new Float32(), false)], toMetadata({ note: 'none kept' }));
    openArrowFileWriter(path, schema).close();
    expect(readArrowFile(path).numRows).toBe(0);
    expect((await readArrowSchema(path)).metadata.get('note')).toBe('none kept');
    expect((await readArrowSchema(path)).fields.map((f) => f.name)).toEqual(['score']);
  });

  it('reports unreadable files as a one-line UsageError naming the file', async () => {
    const path = join(tmp(), 'junk.arrow');
    writeFileSync(path, 'definitely not arrow');
    expect(() => readArrowFile(path)).toThrow(UsageError);
    expect(() => readArrowFile(path)).toThrow(path);
    expect(() => readArrowFile('/nonexistent.arrow')).toThrow(/cannot read Arrow file \/nonexistent.arrow: ENOENT/);
    await expect(readArrowBatches('/nonexistent.arrow').next()).rejects.toThrow(UsageError);
    await expect(readArrowBatches(path).next()).rejects.toThrow(UsageError);
    await expect(readArrowSchema(path)).rejects.toThrow(path);
  });
  // Polars reads what we write: test/io/independent-readers.test.ts.
});
