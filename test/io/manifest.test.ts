import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { writeManifest, type Manifest } from '../../src/io/manifest.ts';

const projectPackage = createRequire(import.meta.url)('../../package.json') as { name: string; version: string };

describe('manifest', () => {
  it('records the run and its environment in manifest.json', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'manifest-test-')), 'run');
    const startedAt = new Date('2024-01-02T03:04:05.000Z');
    const returned = writeManifest(dir, {
      command: 'train',
      config: { epochs: 2 },
      resolved: { epochs: 2, lr: 0.1 },
      backend: 'cpu',
      timings: { train: 1.5 },
      extra: { note: 'x' },
      startedAt,
    });
    const written = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    expect(written).toEqual(returned);
    expect(written.package).toEqual({ name: projectPackage.name, version: projectPackage.version });
    expect(written).toMatchObject({
      command: 'train',
      config: { epochs: 2 },
      resolved: { epochs: 2, lr: 0.1 },
      backend: 'cpu',
      timings: { train: 1.5 },
      extra: { note: 'x' },
      startedAt: '2024-01-02T03:04:05.000Z',
      argv: process.argv,
    });
    expect(Date.parse(written.finishedAt)).toBeGreaterThan(startedAt.getTime());
    expect(written.versions.node).toBe(process.versions.node);
    expect(written.versions['@tensorflow/tfjs']).toBe('4.22.0');
    expect(written.versions['apache-arrow']).toBe('21.0.0');
    expect(written.host.cpus).toBeGreaterThan(0);
    expect(written.host.platform).toBe(process.platform);
    if (written.git) expect(written.git.commit).toMatch(/^[0-9a-f]{40}$/);
  });

  it('works outside a git repository', () => {
    const cwd = process.cwd();
    const dir = mkdtempSync(join(tmpdir(), 'manifest-nogit-'));
    process.chdir(dir);
    try {
      const manifest = writeManifest(dir, { command: 'x', config: {}, resolved: {}, backend: 'cpu', timings: {} });
      expect(manifest.git).toBeNull();
      expect(manifest.startedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    } finally {
      process.chdir(cwd);
    }
  });
});
