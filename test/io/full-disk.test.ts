/**
 * A full disk while writing a file: Node's write on a descriptor fails with ENOSPC and no path, so the
 * writers name the file they were writing. `writeSync` is replaced by one that fails once armed (a real
 * full disk needs a small mount, which CI cannot make); checked by hand on a 64 KiB tmpfs as well.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Field, Float32, makeVector, Schema, Table } from 'apache-arrow';
import { describe, expect, it, vi } from 'vitest';

const full = vi.hoisted(() => ({ armed: false }));
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const writeSync = ((...args: Parameters<typeof real.writeSync>) => {
    if (full.armed) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    return real.writeSync(...args);
  }) as typeof real.writeSync;
  return { ...real, default: { ...real, writeSync }, writeSync };
});

const { writeFileAtomic } = await import('../../src/io/atomic.ts');
const { openArrowFileWriter } = await import('../../src/io/arrow.ts');
const { describeFailure, EXIT } = await import('../../src/util/errors.ts');

function failure(f: () => void): ReturnType<typeof describeFailure> {
  full.armed = true;
  try {
    f();
  } catch (err) {
    return describeFailure(err);
  } finally {
    full.armed = false;
  }
  throw new Error('the write did not fail');
}

describe('a full disk names the file being written (exit 1), and leaves no temp file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-full-'));

  it('writeFileAtomic', () => {
    const file = path.join(dir, 'report.json');
    const f = failure(() => writeFileAtomic(file, '{}'));
    expect(f).toEqual({
      line: `${file}: no space left on the device (ENOSPC in write); free some space, then rerun (finished work is kept)`,
      code: EXIT.failure,
    });
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('report.json'))).toEqual([]);
  });

  it('the Arrow writer, while writing a batch', () => {
    const file = path.join(dir, 'masks.arrow');
    const schema = new Schema([new Field('x', new Float32(), false)]);
    const writer = openArrowFileWriter(file, schema);
    const batch = new Table(schema, { x: makeVector(new Float32Array(1000)) }).batches[0]!;
    const f = failure(() => writer.write(batch));
    expect(f.code).toBe(EXIT.failure);
    expect(f.line).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: no space left on the device \\(ENOSPC in write\\)`));
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('masks.arrow'))).toEqual([]);
  });
});
