import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fetchDataset, installArchive, verifyDataset } from '../../src/data/fetch.ts';
import { loadDataset } from '../../src/data/registry.ts';
import { extractTar, readTar } from '../../src/data/tar.ts';
import { cifarRecord, expectUsageError, expectUsageErrorAsync, tempDir } from './helpers.ts';

const URL_ = 'https://example.invalid/cifar-10-binary.tar.gz';
const LONG_NAME = `${'x'.repeat(120)}.txt`;

/** A miniature CIFAR-10 archive made by the system tar (an independent tar writer). */
function makeArchive(format: 'gnu' | 'pax' = 'gnu'): Buffer {
  const root = tempDir('archive-src-');
  const folder = path.join(root, 'cifar-10-batches-bin');
  fs.mkdirSync(path.join(folder, 'nested'), { recursive: true });
  const files = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
  files.forEach((f, i) =>
    fs.writeFileSync(
      path.join(folder, f),
      cifarRecord([i], (c, y, x) => (i + c + y + x) % 256),
    ),
  );
  fs.writeFileSync(path.join(folder, 'nested', LONG_NAME), 'long names survive');
  const archive = path.join(root, 'a.tar.gz');
  execFileSync('tar', ['-czf', archive, `--format=${format}`, '-C', root, 'cifar-10-batches-bin']);
  return fs.readFileSync(archive);
}

function fakeFetch(body: Buffer, status = 200): typeof fetch {
  return (async () =>
    new Response(status === 200 ? new Uint8Array(body) : 'nope', { status, headers: { 'content-length': String(body.length) } })) as unknown as typeof fetch;
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

describe('tar reader', () => {
  for (const format of ['gnu', 'pax'] as const) {
    it(`extracts a ${format} archive with long names`, () => {
      const tar = execFileSync('gunzip', ['-c'], { input: makeArchive(format) });
      const dest = tempDir();
      const written = extractTar(tar, dest);
      expect(written).toHaveLength(7);
      expect(fs.readFileSync(path.join(dest, 'cifar-10-batches-bin', 'nested', LONG_NAME), 'utf8')).toBe('long names survive');
      expect(fs.statSync(path.join(dest, 'cifar-10-batches-bin', 'test_batch.bin')).size).toBe(3073);
    });
  }

  it('refuses entries that escape the destination and truncated archives', () => {
    const src = tempDir();
    fs.writeFileSync(path.join(src, 'evil'), 'x');
    const tar = execFileSync('tar', ['-cf', '-', '-P', '--transform', 's,^,../,', '-C', src, 'evil']);
    expect(() => extractTar(tar, tempDir())).toThrow(/outside the destination/);
    expect(() => [...readTar(tar.subarray(0, 600))]).toThrow(/past the end|truncated/);
  });
});

describe('installArchive / fetchDataset', () => {
  it('downloads, checks the md5, unpacks atomically, and the result loads', async () => {
    const archive = makeArchive();
    const dest = tempDir();
    const result = await installArchive('cifar10', { url: URL_, md5: md5(archive), folder: 'cifar-10-batches-bin' }, dest, { fetchImpl: fakeFetch(archive) });
    expect(result).toMatchObject({ alreadyPresent: false, md5: md5(archive), sha256: createHash('sha256').update(archive).digest('hex'), files: 7 });
    expect(result.path).toBe(path.join(dest, 'cifar-10-batches-bin'));
    expect(fs.readdirSync(dest)).toEqual(['cifar-10-batches-bin']); // no temp leftovers
    const ds = loadDataset('cifar10', { dataDir: dest });
    expect(Array.from(ds.train.labels)).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(ds.test.labels)).toEqual([5]);

    const again = await installArchive('cifar10', { url: URL_, md5: md5(archive), folder: 'cifar-10-batches-bin' }, dest, {
      fetchImpl: fakeFetch(Buffer.alloc(0)),
    });
    expect(again.alreadyPresent).toBe(true);
    const forced = await installArchive('cifar10', { url: URL_, md5: md5(archive), folder: 'cifar-10-batches-bin' }, dest, {
      fetchImpl: fakeFetch(archive),
      force: true,
    });
    expect(forced.alreadyPresent).toBe(false);
    expect(fs.readdirSync(dest)).toEqual(['cifar-10-batches-bin']);
  });

  it('rejects an archive whose md5 differs from the published one, leaving nothing behind', async () => {
    const dest = path.join(tempDir(), 'cache');
    await expectUsageErrorAsync(
      () => fetchDataset('cifar10', { dir: dest, fetchImpl: fakeFetch(makeArchive()) }),
      /md5 [0-9a-f]{32}, expected c32a1d4ab5d03f1284b67883e8d87530/,
    );
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('offline: one line with the failure, the URL and how to place the files by hand', async () => {
    const offline = (async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND www.cs.toronto.edu'), { code: 'ENOTFOUND' }) });
    }) as unknown as typeof fetch;
    const dest = path.join(tempDir(), 'cache');
    await expectUsageErrorAsync(
      () => fetchDataset('cifar100', { dir: dest, fetchImpl: offline }),
      /download failed \(getaddrinfo ENOTFOUND www\.cs\.toronto\.edu\)/,
      /https:\/\/www\.cs\.toronto\.edu\/~kriz\/cifar-100-binary\.tar\.gz/,
      /by hand/,
      /cifar-100-binary\//,
    );
    await expectUsageErrorAsync(() => fetchDataset('cifar10', { dir: dest, fetchImpl: fakeFetch(Buffer.alloc(1), 404) }), /HTTP 404/);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('explains the datasets that are not downloaded', async () => {
    await expectUsageErrorAsync(() => fetchDataset('mnist'), /embedded/);
    await expectUsageErrorAsync(() => fetchDataset('fashion-mnist'), /dataset-fashion-mnist/);
    await expectUsageErrorAsync(() => fetchDataset('imagenet'), /unknown dataset/);
  });
});

describe('verifyDataset', () => {
  it('summarizes mnist', () => {
    const s = verifyDataset('mnist');
    expect(s).toMatchObject({ name: 'mnist', ok: true, shape: [28, 28, 1], numClasses: 10, train: { n: 8000, min: 0, max: 1 }, test: { n: 2000 } });
    expect(s.train.classCounts.reduce((a, b) => a + b)).toBe(8000);
    expect(s.measured.mean[0]).toBeCloseTo(0.1307, 2);
  });

  it('flags record counts that differ from registry.json', () => {
    const dir = tempDir();
    const tar = execFileSync('gunzip', ['-c'], { input: makeArchive() });
    extractTar(tar, dir);
    expectUsageError(() => verifyDataset('cifar10', { dataDir: dir }), /train has 5 records, registry\.json documents 50000/);
  });
});
