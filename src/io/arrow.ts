/**
 * Arrow IPC *file* format helpers over apache-arrow 21. Output is uncompressed (the only kind pyarrow and
 * polars can read from this library) and appears atomically: written to a temp file, then renamed.
 */
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  AsyncByteQueue,
  Dictionary,
  Field,
  Int32,
  makeData,
  RecordBatch,
  RecordBatchFileWriter,
  RecordBatchReader,
  Schema,
  Struct,
  Table,
  tableFromIPC,
  util,
  Utf8,
  Vector,
  vectorFromArray,
} from 'apache-arrow';
import { commitTempFile, makeDirs, tempPathFor } from './atomic.ts';
import { usage, UsageError, withPath } from '../util/errors.ts';

export interface ArrowFileWriter {
  readonly path: string;
  readonly rows: number;
  /** Appends batches; each must match the writer's schema (dictionary columns: the same dictionary). */
  write(batches: RecordBatch | Table): void;
  /** Writes the footer, fsyncs and renames the temp file to `path`. */
  close(): void;
  /** Drops the temp file; `path` is left as it was. */
  abort(): void;
}

/** Streams record batches into an Arrow file, holding none of them after they are written. */
export function openArrowFileWriter(path: string, schema: Schema): ArrowFileWriter {
  makeDirs(dirname(path));
  const tempPath = tempPathFor(path);
  const fd = openSync(tempPath, 'w');
  const writer = new RecordBatchFileWriter();
  let isOpen = true;
  let rows = 0;

  const abort = () => {
    if (!isOpen) return;
    isOpen = false;
    closeSync(fd);
    rmSync(tempPath, { force: true });
  };
  const ensureOpen = () => {
    if (!isOpen) throw new Error(`Arrow writer for ${path} is already closed`);
  };

  try {
    writer.reset(new FileSink(fd, path), schema);
  } catch (err) {
    abort();
    throw err;
  }

  return {
    path,
    get rows() {
      return rows;
    },
    write(batches) {
      ensureOpen();
      for (const batch of batches instanceof Table ? batches.batches : [batches]) {
        // apache-arrow would otherwise end the file silently at the first batch with another schema.
        if (!util.compareSchemas(schema, batch.schema)) {
          throw new Error(
            `batch for ${path} does not match the file's schema ${describe(schema)}, got ${describe(batch.schema)}` +
              ' (dictionary columns must reuse one dictionary type across batches; see StringDictionary)',
          );
        }
        try {
          writer.write(new RecordBatch(schema, batch.data));
        } catch (err) {
          abort();
          // A full disk or an I/O error is the filesystem's (one line naming the file, exit 1), not a bug.
          if (typeof (err as NodeJS.ErrnoException).code === 'string') throw withPath(err, path);
          throw new Error(`writing ${path} failed: ${(err as Error).message}`, { cause: err });
        }
        rows += batch.numRows;
      }
    },
    close() {
      ensureOpen();
      try {
        writer.finish();
        fsyncSync(fd);
      } catch (err) {
        abort();
        throw withPath(err, path);
      }
      isOpen = false;
      closeSync(fd);
      try {
        commitTempFile(tempPath, path);
      } catch (err) {
        rmSync(tempPath, { force: true });
        throw err;
      }
    },
    abort,
  };
}

/** Writes a whole table; `metadata` is merged into its schema metadata. */
export function writeArrowFile(path: string, table: Table, metadata?: Record<string, unknown>): void {
  const schema = metadata ? withMetadata(table.schema, metadata) : table.schema;
  const writer = openArrowFileWriter(path, schema);
  try {
    writer.write(table);
    writer.close();
  } catch (err) {
    writer.abort();
    throw err;
  }
}

export function readArrowFile(path: string): Table {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    return usage(`cannot read Arrow file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (check the path)`);
  }
  const magic = ARROW_MAGIC.length;
  checkArrowMagic(path, bytes.length, bytes.subarray(0, magic), bytes.subarray(Math.max(0, bytes.length - magic)));
  try {
    return tableFromIPC(bytes);
  } catch (err) {
    return unreadable(path, err);
  }
}

/** Reads one record batch at a time from disk, for files too large to hold whole. */
export async function* readArrowBatches(path: string): AsyncGenerator<RecordBatch, void, undefined> {
  const handle = await openForReading(path);
  try {
    // The reader fails lazily on a corrupt file, so the whole iteration is guarded (a consumer's own
    // exceptions do not arrive here: they are thrown outside the generator).
    const reader = await RecordBatchReader.from(handle);
    for await (const batch of reader) yield batch;
  } catch (err) {
    unreadable(path, err);
  } finally {
    await handle.close().catch(() => {});
  }
}

/** The schema (with its metadata) of an Arrow file, read from its footer without its batches. */
export async function readArrowSchema(path: string): Promise<Schema> {
  const handle = await openForReading(path);
  try {
    const reader = await RecordBatchReader.from(handle);
    await reader.open();
    return reader.schema;
  } catch (err) {
    return unreadable(path, err);
  } finally {
    await handle.close().catch(() => {});
  }
}

/** Schema metadata from plain values: strings stay as they are, anything else is stored as JSON. */
export function toMetadata(values: Record<string, unknown>): Map<string, string> {
  const metadata = new Map<string, string>();
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) metadata.set(key, typeof value === 'string' ? value : JSON.stringify(value));
  }
  return metadata;
}

/** A metadata value stored as JSON by `toMetadata`; undefined when the key is absent. */
export function metadataJson<T = unknown>(metadata: Map<string, string>, key: string): T | undefined {
  const text = metadata.get(key);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return usage(`Arrow schema metadata "${key}" is not JSON: ${text.slice(0, 80)} (re-create the file)`);
  }
}

export function withMetadata(schema: Schema, metadata: Record<string, unknown>): Schema {
  return new Schema(schema.fields, new Map([...schema.metadata, ...toMetadata(metadata)]), schema.dictionaries);
}

/**
 * A dictionary-encoded string column whose batches all share one dictionary. The Arrow file format
 * forbids replacing a dictionary between batches, so a streamed column (e.g. layer names) needs this.
 */
export class StringDictionary {
  readonly type = new Dictionary(new Utf8(), new Int32());
  private readonly dictionary: Vector<Utf8>;
  private readonly codes: Map<string, number>;

  constructor(readonly values: readonly string[]) {
    this.dictionary = vectorFromArray(values as string[], new Utf8());
    this.codes = new Map(values.map((value, code) => [value, code]));
  }

  field(name: string): Field<Dictionary<Utf8, Int32>> {
    return new Field(name, this.type, false);
  }

  encode(values: readonly string[]): Vector<Dictionary<Utf8, Int32>> {
    const indices = Int32Array.from(values, (value) => {
      const code = this.codes.get(value);
      if (code === undefined) throw new Error(`"${value}" is not in the dictionary (${this.values.join(', ')})`);
      return code;
    });
    return this.fromIndices(indices);
  }

  fromIndices(indices: Int32Array): Vector<Dictionary<Utf8, Int32>> {
    return new Vector([makeData({ type: this.type, length: indices.length, nullCount: 0, data: indices, dictionary: this.dictionary })]);
  }
}

/** A record batch with exactly `schema` (metadata included) from single-chunk columns named by its fields. */
export function recordBatch(schema: Schema, columns: Record<string, Vector>): RecordBatch {
  const children = schema.fields.map((field) => {
    const column = columns[field.name];
    if (!column) throw new Error(`column "${field.name}" is missing`);
    if (column.data.length !== 1) throw new Error(`column "${field.name}" has ${column.data.length} chunks; pass one`);
    if (!util.compareTypes(field.type, column.type)) throw new Error(`column "${field.name}" is ${column.type}, schema says ${field.type}`);
    return column.data[0]!;
  });
  const length = children[0]?.length ?? 0;
  const ragged = schema.fields.find((_, i) => children[i]!.length !== length);
  if (ragged) throw new Error(`column "${ragged.name}" has ${children[schema.fields.indexOf(ragged)]!.length} rows, expected ${length}`);
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length, nullCount: 0, children }));
}

async function openForReading(path: string): Promise<FileHandle> {
  const handle = await open(path).catch((err: NodeJS.ErrnoException) => usage(`cannot read Arrow file ${path}: ${err.code ?? err.message} (check the path)`));
  try {
    const size = (await handle.stat()).size;
    const head = Buffer.alloc(ARROW_MAGIC.length);
    const tail = Buffer.alloc(ARROW_MAGIC.length);
    if (size >= 2 * ARROW_MAGIC.length) {
      await handle.read(head, 0, head.length, 0);
      await handle.read(tail, 0, tail.length, size - tail.length);
    }
    checkArrowMagic(path, size, head, tail);
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
  return handle;
}

const ARROW_MAGIC = Buffer.from('ARROW1');

/** An Arrow IPC file starts and ends with ARROW1; anything else (empty, cut short, not Arrow) is refused before parsing. */
function checkArrowMagic(path: string, size: number, head: Uint8Array, tail: Uint8Array): void {
  if (size === 0) usage(`${path} is empty; re-create it`);
  if (!ARROW_MAGIC.equals(head)) usage(`${path} is not an Arrow IPC file (no ARROW1 magic at its start); re-create it`);
  if (!ARROW_MAGIC.equals(tail)) usage(`${path} is truncated (no ARROW1 magic at its end); re-create it`);
}

function unreadable(path: string, err: unknown): never {
  if (err instanceof UsageError) throw err;
  return usage(`${path} is not a readable Arrow IPC file: ${(err as Error).message} (re-create it)`);
}

function describe(schema: Schema): string {
  return schema.fields.map((field) => `${field.name}: ${field.type}`).join(', ');
}

/** Receives the writer's bytes and writes them straight to the file, so nothing accumulates in memory. */
class FileSink extends AsyncByteQueue {
  constructor(
    private readonly fd: number,
    private readonly path: string,
  ) {
    super();
  }

  override write(chunk: Parameters<AsyncByteQueue['write']>[0]): void {
    if (!(chunk instanceof Uint8Array)) throw new TypeError('FileSink expects Uint8Array chunks');
    try {
      for (let written = 0; written < chunk.byteLength;) {
        written += writeSync(this.fd, chunk, written, chunk.byteLength - written);
      }
    } catch (err) {
      throw withPath(err, this.path); // a write on a descriptor fails without a path (ENOSPC)
    }
  }
}
