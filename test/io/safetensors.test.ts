import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, loadSafetensors, saveSafetensors, type SafeTensor } from '../../src/io/safetensors.ts';
import { UsageError } from '../../src/util/errors.ts';
import { safetensorsSample } from './fixtures/safetensors-sample.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'safetensors-test-'));

const sample = safetensorsSample;

describe('safetensors', () => {
  it('round-trips every dtype, shapes, metadata and the given order', () => {
    const path = join(tmp(), 'nested', 'weights.safetensors');
    saveSafetensors(path, sample(), { format: 'pt', note: 'ünïcode ✓' });
    const { tensors, metadata } = loadSafetensors(path);
    expect(metadata).toEqual({ format: 'pt', note: 'ünïcode ✓' });
    expect(Object.keys(tensors)).toEqual(Object.keys(sample()));
    for (const [name, tensor] of Object.entries(sample())) {
      expect(tensors[name]!.dtype).toBe(tensor.dtype);
      expect(tensors[name]!.shape).toEqual(tensor.shape);
      expect(tensors[name]!.data).toBeInstanceOf(tensor.data.constructor);
      expect(tensors[name]!.data).toEqual(tensor.data);
    }
    expect(Object.is(tensors['conv1.weight']!.data[4], -0)).toBe(true);
  });

  it('writes exactly the bytes the format spec prescribes', () => {
    const bytes = encodeSafetensors(
      {
        w: { dtype: 'F32', shape: [2], data: Float32Array.of(1, -2) },
        m: { dtype: 'U8', shape: [3], data: Uint8Array.of(1, 2, 3) },
      },
      { format: 'pt' },
    );
    // Header JSON is 138 bytes, padded with 6 spaces to 144 = 0x90, a multiple of 8.
    const header =
      '{"__metadata__":{"format":"pt"},' + '"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' + '"m":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}';
    expect(header.length).toBe(138);
    const expected = [
      ...[0x90, 0, 0, 0, 0, 0, 0, 0],
      ...[...header].map((c) => c.charCodeAt(0)),
      ...Array(6).fill(0x20),
      ...[0x00, 0x00, 0x80, 0x3f], // 1.0f little-endian
      ...[0x00, 0x00, 0x00, 0xc0], // -2.0f
      ...[1, 2, 3],
    ];
    expect(bytes.length).toBe(8 + 144 + 11);
    expect([...bytes]).toEqual(expected);
  });

  it('reads an unpadded header and tensors stored out of name order', () => {
    const header = JSON.stringify({
      b: { dtype: 'I32', shape: [1], data_offsets: [4, 8] },
      a: { dtype: 'I32', shape: [1], data_offsets: [0, 4] },
    });
    const bytes = Buffer.concat([u64(header.length), Buffer.from(header), Buffer.from(Int32Array.of(7, 9).buffer)]);
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({});
    expect(Object.keys(tensors)).toEqual(['a', 'b']);
    expect(tensors.b!.data).toEqual(Int32Array.of(9));
  });

  describe('rejects malformed files with a one-line UsageError naming the file', () => {
    const cases: [string, Uint8Array, RegExp][] = [
      ['too short', Uint8Array.of(1, 2, 3), /shorter than the 8-byte header length/],
      ['header length beyond file', Buffer.concat([u64(1000), Buffer.from('{}')]), /header length 1000 exceeds the 2 bytes/],
      ['header not JSON', file('{"a": '), /not UTF-8 JSON/],
      ['unknown dtype', file({ x: { dtype: 'BF16', shape: [1], data_offsets: [0, 2] } }, 2), /unsupported dtype "BF16"/],
      ['offset beyond data', file({ x: { dtype: 'U8', shape: [8], data_offsets: [0, 8] } }, 4), /ends at byte 8, beyond the 4 data bytes/],
      ['shape/size mismatch', file({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /spans 8 bytes but F32\[3\] needs 12/],
      [
        'overlapping tensors',
        file(
          {
            x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            y: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
          },
          8,
        ),
        /overlaps/,
      ],
      ['gap between tensors', file({ x: { dtype: 'U8', shape: [2], data_offsets: [2, 4] } }, 4), /unused bytes 0..2/],
      ['trailing bytes', file({ x: { dtype: 'U8', shape: [2], data_offsets: [0, 2] } }, 4), /2 trailing bytes/],
      ['negative offsets', file({ x: { dtype: 'U8', shape: [0], data_offsets: [-1, -1] } }, 0), /invalid data_offsets/],
      ['non-string metadata', file({ __metadata__: { epoch: 3 } }, 0), /__metadata__.epoch is not a string/],
    ];
    for (const [name, bytes, message] of cases) {
      it(name, () => {
        const path = join(tmp(), 'bad.safetensors');
        writeFileSync(path, bytes);
        const error = captureError(() => loadSafetensors(path));
        expect(error).toBeInstanceOf(UsageError);
        expect(error.message).toMatch(message);
        expect(error.message.startsWith(`${path}: `)).toBe(true);
        expect(error.message).not.toContain('\n');
      });
    }

    it('missing file', () => {
      const error = captureError(() => loadSafetensors('/nonexistent/w.safetensors'));
      expect(error).toBeInstanceOf(UsageError);
      expect(error.message).toMatch(/cannot read safetensors file \/nonexistent\/w.safetensors: ENOENT/);
    });
  });

  it('refuses to encode data that does not match dtype or shape', () => {
    expect(() => encodeSafetensors({ x: { dtype: 'F32', shape: [2], data: Float32Array.of(1) } })).toThrow(/2 elements but data has 1/);
    expect(() => encodeSafetensors({ x: { dtype: 'I32', shape: [1], data: Float32Array.of(1) } as unknown as SafeTensor })).toThrow(
      /needs a Int32Array, got Float32Array/,
    );
    expect(() => encodeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } })).toThrow(/reserved/);
  });

  // A byte-level reader written from the specification checks our files: test/io/independent-readers.test.ts.
  const numpy = pythonHas('numpy');
  if (!numpy.ok) console.warn(`numpy cross-check SKIPPED: ${numpy.reason}`);
  it.skipIf(!numpy.ok)(numpy.ok ? 'agrees with an independent numpy reader and writer' : `numpy cross-check SKIPPED: ${numpy.reason}`, () => {
    const dir = tmp();
    const ours = join(dir, 'ours.safetensors');
    const theirs = join(dir, 'theirs.safetensors');
    saveSafetensors(ours, sample(), { format: 'pt' });
    const script = `
import json, struct, sys
import numpy as np
DT = {'F32': '<f4', 'I32': '<i4', 'U8': 'u1', 'F64': '<f8', 'I64': '<i8'}
raw = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', raw[:8])
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
out = {'n': n, 'metadata': header.pop('__metadata__', {}), 'tensors': {}}
for name, t in header.items():
    b, e = t['data_offsets']
    a = np.frombuffer(data[b:e], dtype=DT[t['dtype']]).reshape(t['shape'])
    out['tensors'][name] = {'dtype': t['dtype'], 'shape': list(a.shape), 'values': [repr(v) for v in a.ravel().tolist()]}
print(json.dumps(out))
# numpy writes a file the way the reference library lays it out: no padding spec relied upon
w = np.arange(6, dtype='<f4').reshape(2, 3) / 3
k = np.array([-5, 2**40], dtype='<i8')
hdr = json.dumps({'k': {'dtype': 'I64', 'shape': [2], 'data_offsets': [0, 16]},
                  'w': {'dtype': 'F32', 'shape': [2, 3], 'data_offsets': [16, 40]}}).encode()
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(hdr)) + hdr + k.tobytes() + w.tobytes())
`;
    const result = JSON.parse(execFileSync('python3', ['-c', script, ours, theirs], { encoding: 'utf8' })) as {
      n: number;
      metadata: Record<string, string>;
      tensors: Record<string, { dtype: string; shape: number[]; values: string[] }>;
    };
    expect(result.n % 8).toBe(0);
    expect(result.metadata).toEqual({ format: 'pt' });
    for (const [name, tensor] of Object.entries(sample())) {
      const theirsTensor = result.tensors[name]!;
      expect(theirsTensor.shape).toEqual(tensor.shape);
      expect(theirsTensor.dtype).toBe(tensor.dtype);
      expect(theirsTensor.values.map((v) => fromPythonRepr(v, tensor.dtype))).toEqual([...tensor.data]);
    }

    const { tensors } = loadSafetensors(theirs);
    expect(tensors.k).toEqual({ dtype: 'I64', shape: [2], data: BigInt64Array.of(-5n, 2n ** 40n) });
    expect(tensors.w!.data).toEqual(Float32Array.from([0, 1, 2, 3, 4, 5], (v) => Math.fround(v / 3)));
    expect(readFileSync(theirs).length).toBe(8 + readFileSync(theirs).readUInt32LE(0) + 40);
  });
});

function u64(value: number): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE(BigInt(value));
  return buffer;
}

function file(header: unknown, dataBytes = 0): Uint8Array {
  const json = typeof header === 'string' ? header : JSON.stringify(header);
  return Buffer.concat([u64(Buffer.byteLength(json)), Buffer.from(json), Buffer.alloc(dataBytes)]);
}

function captureError(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

/** The JS value that Python's repr of a .tolist() element denotes. */
function fromPythonRepr(text: string, dtype: string): number | bigint {
  return dtype === 'I64' ? BigInt(text) : Number(text.replace('inf', 'Infinity'));
}

function pythonHas(module: string): { ok: boolean; reason: string } {
  const run = spawnSync('python3', ['-c', `import ${module}`], { encoding: 'utf8' });
  if (run.error) return { ok: false, reason: 'python3 is not installed' };
  return run.status === 0 ? { ok: true, reason: '' } : { ok: false, reason: `python3 cannot import ${module}` };
}
