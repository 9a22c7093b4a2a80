import { Binary, Field, Int32, List, Schema, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { readArrowFile, writeArrowFile } from '../io/arrow.ts';
import { usage } from '../util/errors.ts';
import type { Masks } from './masks.ts';

/**
 * Mask file (Arrow IPC, uncompressed), one row per prunable tensor:
 *   layer: utf8            tensor name (e.g. stage2.block0.conv1)
 *   shape: list<int32>     tensor shape in tfjs layout (conv [kh,kw,cin,cout], dense [in,out])
 *   kept:  int32           number of ones
 *   bits:  binary          keep-flags of the row-major flat tensor, packed 8 per byte, least
 *                          significant bit first (numpy: np.unpackbits(b, bitorder='little')[:size])
 */
export const MASK_FORMAT = 'pipeline-mask-v1';

export function packBits(bits: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bits.length / 8));
  for (let i = 0; i < bits.length; i++) if (bits[i]) out[i >> 3] |= 1 << (i & 7);
  return out;
}

export function unpackBits(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (bytes[i >> 3] >> (i & 7)) & 1;
  return out;
}

export function writeMaskFile(path: string, masks: Masks, shapes: Map<string, number[]>, metadata: Record<string, unknown> = {}): void {
  const names = [...masks.keys()];
  const table = new Table({
    layer: vectorFromArray(names, new Utf8()),
    shape: vectorFromArray(
      names.map((n) => shapes.get(n)!),
      new List(new Field('item', new Int32(), false)),
    ),
    kept: vectorFromArray(
      names.map((n) => masks.get(n)!.reduce((a, b) => a + b, 0)),
      new Int32(),
    ),
    bits: vectorFromArray(
      names.map((n) => packBits(masks.get(n)!)),
      new Binary(),
    ),
  });
  writeArrowFile(path, table, { format: MASK_FORMAT, ...metadata });
}

/**
 * Reads a mask file, refusing what is well-formed Arrow but not one mask per tensor: a tensor listed
 * twice, a `kept` count that is not the number of set bits. `shapes` receives each tensor's shape.
 */
export function readMaskFile(path: string, shapes?: Map<string, number[]>): Masks {
  const table = readArrowFile(path);
  const schema: Schema = table.schema;
  if (schema.metadata.get('format') !== MASK_FORMAT) {
    usage(`${path} is not a mask file (format '${schema.metadata.get('format') ?? 'none'}'); pass a masks.arrow written by 'pipeline prune'`);
  }
  const masks: Masks = new Map();
  const column = (name: string) =>
    table.getChild(name) ?? usage(`${path} has no column '${name}'; the mask file is corrupt: re-create it with 'pipeline prune'`);
  const layer = column('layer');
  const shape = column('shape');
  const bits = column('bits');
  const kept = table.getChild('kept');
  const rowOf = new Map<string, number>();
  for (let i = 0; i < table.numRows; i++) {
    const dims = Array.from(shape.get(i) as Iterable<number>);
    const size = dims.reduce((a, b) => a * b, 1);
    const packed = bits.get(i) as Uint8Array | null;
    if (!packed || !dims.every((d) => Number.isInteger(d) && d > 0)) usage(`${path}: mask row ${i} has no bits or a bad shape; the file is corrupt`);
    if (packed.length !== Math.ceil(size / 8)) usage(`${path}: mask '${layer.get(i)}' has ${packed.length} bytes for ${size} entries; the file is corrupt`);
    const name = String(layer.get(i));
    if (rowOf.has(name)) usage(`${path}: mask '${name}' appears twice (rows ${rowOf.get(name)} and ${i}); re-create the file with 'pipeline prune'`);
    rowOf.set(name, i);
    const mask = unpackBits(packed, size);
    const set = mask.reduce((a, b) => a + b, 0);
    if (kept && Number(kept.get(i)) !== set)
      usage(`${path}: mask '${name}' says kept ${kept.get(i)} but has ${set} bits set; the file is corrupt: re-create it with 'pipeline prune'`);
    masks.set(name, mask);
    shapes?.set(name, dims);
  }
  return masks;
}
