import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, checkRunDir, configHash, isFinished, markFinished, relocatable, runDir } from '../../src/io/rundir.ts';
import { UsageError } from '../../src/util/errors.ts';

describe('run directories', () => {
  it('canonical JSON sorts keys at every level and drops undefined fields', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: undefined, x: 2 }], c: undefined } })).toBe('{"a":{"d":[{"x":2,"z":1}]},"b":1}');
  });

  it('hash is the first 12 hex digits of sha256 of the canonical JSON, independent of key order', () => {
    const expected = createHash('sha256').update('{"lr":0.1,"model":"resnet18"}').digest('hex').slice(0, 12);
    expect(configHash({ model: 'resnet18', lr: 0.1 })).toBe(expected);
    expect(configHash({ lr: 0.1, model: 'resnet18', seed: undefined })).toBe(expected);
    expect(configHash({ lr: 0.2, model: 'resnet18' })).not.toBe(expected);
  });

  it('runDir is <root>/<kind>_<hash> and rejects kinds that are not plain names', () => {
    expect(runDir('/runs', 'train', { a: 1 })).toBe(`/runs/train_${configHash({ a: 1 })}`);
    expect(() => runDir('/runs', '../escape', {})).toThrow(UsageError);
    expect(() => runDir('/runs', '', {})).toThrow(UsageError);
  });

  it('a damaged config.json is one usage line naming it (it was an internal SyntaxError), and the directory is left as it is', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rundir-test-')), 'prune_abc');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), '{"criterion": "snip",');
    expect(() => checkRunDir(dir, { criterion: 'snip' }, 'a prune run')).toThrow(UsageError);
    expect(() => checkRunDir(dir, { criterion: 'snip' }, 'a prune run')).toThrow(
      new RegExp(
        `^${join(dir, 'config.json')} is not valid JSON \\(.*\\); it records which run the directory holds: pass --force to replace the directory, or another --out$`,
      ),
    );
    expect(readdirSync(dir)).toEqual(['config.json']);
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe('{"criterion": "snip",');
  });

  it('a run is finished once the DONE marker is written', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rundir-test-')), 'train_abc');
    expect(isFinished(dir)).toBe(false);
    markFinished(dir);
    expect(isFinished(dir)).toBe(true);
  });

  it('relocatable identities name inputs inside the run by their path inside it, and leave the rest as given', () => {
    const id = {
      criterion: 'autos',
      autos: '/runs/a/autos',
      table: '/data/t.arrow',
      tables: ['/runs/a/irp/x/survival.arrow', '/elsewhere/survival.arrow'],
      train: { dataDir: '/runs/a/data', lr: 0.1, note: '/runs/a/not-a-path-key' },
      density: 0.1,
    };
    expect(relocatable(id, '/runs/a/')).toEqual({
      criterion: 'autos',
      autos: '$OUT/autos',
      table: '/data/t.arrow',
      tables: ['$OUT/irp/x/survival.arrow', '/elsewhere/survival.arrow'],
      train: { dataDir: '$OUT/data', lr: 0.1, note: '/runs/a/not-a-path-key' },
      density: 0.1,
    });
    // Moved whole: the same identity, so the same hash.
    const paths = { ...id, train: { dataDir: id.train.dataDir, lr: 0.1 } };
    const moved = JSON.parse(JSON.stringify(paths).replaceAll('/runs/a/', '/mnt/b/'));
    expect(configHash(relocatable(moved, '/mnt/b'))).toBe(configHash(relocatable(paths, '/runs/a')));
    expect(relocatable({ autos: '/runs/ab/autos' }, '/runs/a')).toEqual({ autos: '/runs/ab/autos' }); // a sibling is not inside
    expect(relocatable(id, undefined)).toBe(id);
  });
});
