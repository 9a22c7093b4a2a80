/**
 * Two sweeps started at once on one --out (as two shells, or array tasks without --shard, would): each
 * runs the jobs the other is not running, waits for the ones it is, and both end with every job's
 * result, each job trained once.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const bin = path.resolve(import.meta.dirname, '../../bin/pipeline.mjs');
const env = { ...process.env, PIPELINE_QUIET: '1', PIPELINE_THREADS: '' };

const sweepOnce = (config: string, out: string) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [bin, '--backend', 'wasm', '--threads', '1', 'sweep', config, '--out', out, '--jobs', '1'], { env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });

describe('two sweeps on one directory', () => {
  it('share the jobs: both exit 0, every job finished once, no failure', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-two-sweeps-'));
    const config = path.join(dir, 'sweep.json');
    fs.writeFileSync(
      config,
      JSON.stringify({
        targets: [{ model: 'lenet300', width: 0.25, dataset: 'mnist' }],
        criteria: ['magnitude', 'random', 'snip'],
        densities: [0.5, 0.1],
        seeds: [0],
        train: { epochs: 1, steps: 40, batchSize: 64 },
      }),
    );
    const out = path.join(dir, 'out');
    const [a, b] = await Promise.all([sweepOnce(config, out), sweepOnce(config, out)]);
    for (const r of [a, b]) {
      expect(r.stderr).not.toMatch(/failed|in use by|error/i);
      expect(r.status).toBe(0);
    }
    const ran = [a, b].map((r) => Number(/: (\d+) ran, (\d+) already finished, 0 failed/.exec(r.stdout)?.[1]));
    const jobs = fs.readdirSync(path.join(out, 'jobs'));
    expect(jobs).toHaveLength(7); // 3 criteria × 2 densities and the dense baseline
    for (const j of jobs) expect(fs.existsSync(path.join(out, 'jobs', j, 'DONE'))).toBe(true);
    expect(ran[0]! + ran[1]!).toBe(7); // each job trained by exactly one of the two
    expect(Math.min(...ran)).toBeGreaterThan(0); // and both did work
  }, 300_000);
});
