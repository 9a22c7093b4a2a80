/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian u64 header
 * length N, N bytes of JSON header (padded with spaces to a multiple of 8 when we write), then the raw
 * little-endian tensor bytes; each tensor's `data_offsets` are relative to the start of that data.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic.ts';
import { usage } from '../util/errors.ts';

export type SafetensorsDtype = 'F32' | 'I32' | 'U8' | 'F64' | 'I64';

export interface DtypeArrays {
  F32: Float32Array;
  I32: Int32Array;
  U8: Uint8Array;
  F64: Float64Array;
  I64: BigInt64Array;
}

export type SafeTensor = {
  [D in SafetensorsDtype]: { dtype: D; shape: number[]; data: DtypeArrays[D] };
}[SafetensorsDtype];

export type SafetensorsMetadata = Record<string, string>;

export interface DecodedSafetensors {
  /** In the order of their data in the file. */
  tensors: Record<string, SafeTensor>;
  metadata: SafetensorsMetadata;
}

type TypedArrayClass = { new (buffer: ArrayBuffer): DtypeArrays[SafetensorsDtype]; BYTES_PER_ELEMENT: number };

const ARRAY_CLASS: Record<SafetensorsDtype, TypedArrayClass> = {
  F32: Float32Array,
  I32: Int32Array,
  U8: Uint8Array,
  F64: Float64Array,
  I64: BigInt64Array,
};

const METADATA_KEY = '__metadata__';
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

export function encodeSafetensors(tensors: Record<string, SafeTensor> | Map<string, SafeTensor>, metadata?: SafetensorsMetadata): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') throw new TypeError(`safetensors metadata "${key}" must be a string, got ${typeof value}`);
    }
    header[METADATA_KEY] = metadata;
  }
  let offset = 0;
  for (const [name, tensor] of entries) {
    if (name === METADATA_KEY) throw new TypeError(`"${METADATA_KEY}" is reserved and cannot name a tensor`);
    checkTensor(name, tensor);
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + tensor.data.byteLength] };
    offset += tensor.data.byteLength;
  }

  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const headerLength = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + headerLength);
  let position = 8 + headerLength;
  for (const [, tensor] of entries) {
    const bytes = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    out.set(bytes, position);
    if (!HOST_IS_LITTLE_ENDIAN) swapBytes(out.subarray(position, position + bytes.byteLength), tensor.data.BYTES_PER_ELEMENT);
    position += bytes.byteLength;
  }
  return out;
}

/** Parses and validates safetensors bytes; `source` (a file name) starts every error message. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): DecodedSafetensors {
  const fail: (problem: string) => never = (problem) => usage(`${source}: not a valid safetensors file: ${problem} (re-create or re-download the file)`);

  if (bytes.byteLength < 8) fail(`only ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(bytes.byteLength - 8)) fail(`header length ${declared} exceeds the ${bytes.byteLength - 8} bytes after it`);
  const headerLength = Number(declared);
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (err) {
    fail(`header is not UTF-8 JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(header)) fail('header is not a JSON object');

  const metadata: SafetensorsMetadata = {};
  const spans: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (!isPlainObject(entry)) fail(`${METADATA_KEY} is not an object`);
      for (const [key, value] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof value !== 'string') fail(`${METADATA_KEY}.${key} is not a string`);
        metadata[key] = value as string;
      }
      continue;
    }
    if (!isPlainObject(entry)) fail(`entry "${name}" is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (typeof dtype !== 'string' || !(dtype in ARRAY_CLASS)) {
      fail(`tensor "${name}" has unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(ARRAY_CLASS).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) fail(`tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
      fail(`tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLength) fail(`tensor "${name}" ends at byte ${end}, beyond the ${dataLength} data bytes`);
    const expected = (shape as number[]).reduce((a, b) => a * b, 1) * ARRAY_CLASS[dtype as SafetensorsDtype].BYTES_PER_ELEMENT;
    if (end - begin !== expected) {
      fail(`tensor "${name}" spans ${end - begin} bytes but ${dtype}${JSON.stringify(shape)} needs ${expected}`);
    }
    spans.push({ name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end });
  }

  // Like the reference implementation: the tensors must tile the data exactly, without overlap or gap.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const span of spans) {
    if (span.begin < covered) fail(`tensor "${span.name}" overlaps the tensor before it`);
    if (span.begin > covered) fail(`unused bytes ${covered}..${span.begin} before tensor "${span.name}"`);
    covered = span.end;
  }
  if (covered !== dataLength) fail(`${dataLength - covered} trailing bytes after the last tensor`);

  const tensors: Record<string, SafeTensor> = {};
  for (const { name, dtype, shape, begin, end } of spans) {
    // A copy (the source offset need not be aligned for the element type). Not bytes.slice: on a Buffer
    // that returns a view of the whole file.
    const copy = new Uint8Array(bytes.subarray(dataStart + begin, dataStart + end));
    const ArrayClass = ARRAY_CLASS[dtype];
    if (!HOST_IS_LITTLE_ENDIAN) swapBytes(copy, ArrayClass.BYTES_PER_ELEMENT);
    tensors[name] = { dtype, shape, data: new ArrayClass(copy.buffer) } as SafeTensor;
  }
  return { tensors, metadata };
}

export function saveSafetensors(path: string, tensors: Record<string, SafeTensor> | Map<string, SafeTensor>, metadata?: SafetensorsMetadata): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export function loadSafetensors(path: string): DecodedSafetensors {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    return usage(`cannot read safetensors file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (check the path)`);
  }
  return decodeSafetensors(bytes, path);
}

function checkTensor(name: string, tensor: SafeTensor): void {
  const ArrayClass = ARRAY_CLASS[tensor.dtype];
  if (!ArrayClass) throw new TypeError(`tensor "${name}": unsupported dtype ${JSON.stringify(tensor.dtype)}`);
  if (!(tensor.data instanceof ArrayClass)) {
    throw new TypeError(`tensor "${name}": dtype ${tensor.dtype} needs a ${ArrayClass.name}, got ${tensor.data?.constructor?.name}`);
  }
  if (!tensor.shape.every(isCount)) throw new TypeError(`tensor "${name}": invalid shape ${JSON.stringify(tensor.shape)}`);
  const size = tensor.shape.reduce((a, b) => a * b, 1);
  if (size !== tensor.data.length) {
    throw new TypeError(`tensor "${name}": shape ${JSON.stringify(tensor.shape)} has ${size} elements but data has ${tensor.data.length}`);
  }
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function swapBytes(bytes: Uint8Array, width: number): void {
  if (width > 1) for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}
