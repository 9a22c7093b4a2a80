import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendJsonLine, writeFileAtomic, writeFileAtomicAsync, writeJsonAtomic } from '../../src/io/atomic.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'atomic-test-'));

describe('atomic writes', () => {
  it('creates parent directories, replaces the old file and leaves no temp file', () => {
    const dir = tmp();
    const path = join(dir, 'a', 'b', 'file.bin');
    writeFileAtomic(path, 'old');
    writeFileAtomic(path, Uint8Array.of(1, 2, 3));
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    expect(readdirSync(join(dir, 'a', 'b'))).toEqual(['file.bin']);
  });

  it('writes a subarray view exactly (not its whole buffer)', () => {
    const path = join(tmp(), 'view.bin');
    writeFileAtomic(path, new Uint8Array([9, 8, 7, 6]).subarray(1, 3));
    expect([...readFileSync(path)]).toEqual([8, 7]);
  });

  it('leaves the old file intact and no temp file when the write fails', () => {
    const dir = tmp();
    const path = join(dir, 'x.json');
    writeFileSync(path, 'keep');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => writeJsonAtomic(path, cyclic)).toThrow();
    expect(readFileSync(path, 'utf8')).toBe('keep');
    // A directory in the way makes the rename itself fail.
    expect(() => writeFileAtomic(dir, 'x')).toThrow();
    expect(readdirSync(dir)).toEqual(['x.json']);
  });

  it('async variant and pretty JSON with a trailing newline', async () => {
    const dir = tmp();
    await writeFileAtomicAsync(join(dir, 'deep', 'a.txt'), 'hello');
    expect(readFileSync(join(dir, 'deep', 'a.txt'), 'utf8')).toBe('hello');
    writeJsonAtomic(join(dir, 'b.json'), { a: 1, b: [2] });
    expect(readFileSync(join(dir, 'b.json'), 'utf8')).toBe('{\n  "a": 1,\n  "b": [\n    2\n  ]\n}\n');
  });

  it('appends JSON lines', () => {
    const path = join(tmp(), 'logs', 'metrics.jsonl');
    appendJsonLine(path, { step: 1, loss: 0.5 });
    appendJsonLine(path, { step: 2, loss: 0.25 });
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines).toEqual(['{"step":1,"loss":0.5}', '{"step":2,"loss":0.25}', '']);
  });
});
