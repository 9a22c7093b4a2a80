import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolvePool } from '../../src/sweep/jobs.ts';
import { alive, childrenOf } from '../helpers/procs.ts';

const bin = path.resolve(import.meta.dirname, '../../bin/pipeline.mjs');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-pool-'));

/** Live (not zombie) worker processes whose parent is `pid`. */
const workersOf = (pid: number) => childrenOf(pid, 'sweep-worker');

const until = async (what: string, ok: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('worker pool', () => {
  it('fills the cores by default and takes --jobs/--threads as given, noting oversubscription', () => {
    expect(resolvePool({ pending: 18, cores: 2 })).toEqual({ jobs: 2, threads: 1 });
    expect(resolvePool({ pending: 18, cores: 16 })).toEqual({ jobs: 16, threads: 1 });
    expect(resolvePool({ pending: 1, cores: 2 })).toEqual({ jobs: 1, threads: 2 });
    expect(resolvePool({ pending: 3, cores: 8 })).toEqual({ jobs: 3, threads: 2 });
    expect(resolvePool({ pending: 1, cores: 32 })).toEqual({ jobs: 1, threads: 8 }); // the wasm pool's most
    expect(resolvePool({ jobs: 1, pending: 18, cores: 2 })).toEqual({ jobs: 1, threads: 2 });
    expect(resolvePool({ jobs: 4, pending: 18, cores: 2 })).toEqual({ jobs: 4, threads: 1 });
    expect(resolvePool({ threads: 2, pending: 18, cores: 8 })).toEqual({ jobs: 4, threads: 2 });
    expect(resolvePool({ threads: 4, pending: 18, cores: 2 })).toEqual({ jobs: 1, threads: 4 });
    expect(resolvePool({ jobs: 2, threads: 1, pending: 18, cores: 2 })).toEqual({ jobs: 2, threads: 1 });
    const over = resolvePool({ jobs: 2, threads: 2, pending: 18, cores: 2 });
    expect([over.jobs, over.threads]).toEqual([2, 2]);
    expect(over.note).toMatch(/--jobs 2 × --threads 2 = 4 threads on 2 cores/);
  });

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    it(`${signal} to a busy sweep leaves no worker running`, async () => {
      const root = tmp();
      const file = path.join(root, 'sweep.json');
      // Jobs long enough to be caught training.
      fs.writeFileSync(
        file,
        JSON.stringify({ targets: [{ model: 'lenet300', width: 0.25 }], criteria: ['magnitude'], densities: [0.5, 0.2], train: { epochs: 50 } }),
      );
      const out = path.join(root, 'out');
      const parent = spawn(process.execPath, [bin, '--backend', 'wasm', 'sweep', file, '--jobs', '2', '--threads', '1', '--out', out], {
        stdio: 'ignore',
        env: { ...process.env, PIPELINE_QUIET: '1' },
      });
      const exited = new Promise((r) => parent.on('exit', r));
      let workers: number[] = [];
      try {
        // Busy: a worker wrote a job's masks and is training it.
        const busy = () =>
          fs.existsSync(path.join(out, 'jobs')) && fs.readdirSync(path.join(out, 'jobs')).some((j) => fs.existsSync(path.join(out, 'jobs', j, 'masks.arrow')));
        await until('a busy worker', busy, 60_000);
        workers = workersOf(parent.pid!);
        expect(workers).toHaveLength(2);
        parent.kill(signal);
        await exited;
        await until('the workers to exit', () => workers.every((p) => !alive(p)), 5000);
        for (const j of fs.readdirSync(path.join(out, 'jobs'))) expect(fs.existsSync(path.join(out, 'jobs', j, 'DONE'))).toBe(false);
      } finally {
        for (const p of [parent.pid!, ...workers]) if (alive(p)) process.kill(p, 'SIGKILL');
      }
    }, 90_000);
  }
});
