import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAsync } from '../helpers/cli.ts';

const root = path.resolve(import.meta.dirname, '../..');
const fixture = path.join(import.meta.dirname, 'fixtures', 'thread-outputs.ts');
const tsx = ['--import', 'tsx'];

async function outputsAt(threads: number): Promise<{ threads: number; ownKernels: boolean; kernelThreads: number; digests: Record<string, string> }> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), `pipeline-threads-${threads}-`));
  const r = await runAsync(process.execPath, [...tsx, fixture, String(threads), out], { ...process.env, PIPELINE_QUIET: '1' }, { cwd: root });
  expect(r.status, r.stderr.slice(-2000)).toBe(0);
  fs.rmSync(out, { recursive: true, force: true });
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

describe('multi-threaded wasm', () => {
  it("training, hvp and every criterion's scores are bit-identical at 1 and 2 threads", async () => {
    const one = await outputsAt(1);
    const two = await outputsAt(2);
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    // The project's SIMD kernels (conv filter gradients, batch norm) ran on as many threads.
    expect([one.ownKernels, one.kernelThreads, two.ownKernels, two.kernelThreads]).toEqual([true, 1, true, 2]);
    // Every job wrote scores, masks and (where trained) a checkpoint; hvp produced g and Hg.
    const keys = Object.keys(one.digests);
    for (const want of [
      /resnet20-grasp\/scores\.arrow/,
      /resnet20-crop\/masks\.arrow/,
      /resnet20-synflow\/scores\.arrow/,
      /lenet5-grasp-train\/train\/checkpoint/,
      /resnet20-snip-train\/train\/checkpoint/,
      /^hvp\//,
      /^batch-norm\//,
    ]) {
      expect(
        keys.some((k) => want.test(k)),
        String(want),
      ).toBe(true);
    }
    expect(two.digests).toEqual(one.digests);
  });

  it('falls back to one thread with one line when threads cannot start (no SharedArrayBuffer)', () => {
    const script = `delete globalThis.SharedArrayBuffer; const { main } = await import('./src/cli/main.ts'); process.exitCode = await main(process.argv);`;
    const r = spawnSync(
      process.execPath,
      [
        ...tsx,
        '--input-type=module',
        '-e',
        script,
        'pipeline',
        '--backend',
        'wasm',
        '--threads',
        '2',
        'bench',
        '--model',
        'lenet300',
        '--batch',
        '4',
        '--repeat',
        '1',
      ],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual(['pipeline: note: SharedArrayBuffer is not available: running wasm on 1 thread']);
    expect(JSON.parse(r.stdout).threads).toBe(1);
  });

  it("gives XNNPACK one thread beside the project's kernels unless PIPELINE_XNNPACK_THREADS says otherwise", () => {
    const bench = (env: Record<string, string>) =>
      spawnSync(
        process.execPath,
        [path.join(root, 'bin/pipeline.mjs'), '--backend', 'wasm', '--threads', '2', 'bench', '--model', 'lenet300', '--batch', '4', '--repeat', '1'],
        {
          encoding: 'utf8',
          env: { ...process.env, PIPELINE_QUIET: '1', ...env },
          timeout: 120_000,
        },
      );
    const line = (env: Record<string, string>) => {
      const r = bench(env);
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    };
    expect(line({ PIPELINE_XNNPACK_THREADS: '' })).toMatchObject({ threads: 2, xnnpack_threads: 1 });
    expect(line({ PIPELINE_XNNPACK_THREADS: '2' })).toMatchObject({ threads: 2, xnnpack_threads: 2 });
    const bad = bench({ PIPELINE_XNNPACK_THREADS: 'two' });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe("pipeline: PIPELINE_XNNPACK_THREADS must be a positive integer, got 'two' (or unset it)");
  });

  it('rejects a thread count that is not a positive integer, naming the flag', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'bin/pipeline.mjs'), '--threads', '0', 'bench', '--model', 'lenet300'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe("pipeline: --threads must be a positive integer, got '0' (or unset PIPELINE_THREADS)");
  });

  it('bench --busy n measures beside n spinning processes and leaves none behind, also when killed with SIGKILL', async () => {
    const bin = path.join(root, 'bin/pipeline.mjs');
    const r = await runAsync(
      process.execPath,
      [bin, '--backend', 'wasm', '--threads', '1,2', 'bench', '--model', 'lenet300', '--batch', '4', '--repeat', '1', '--busy', '1'],
      { ...process.env, PIPELINE_QUIET: '1' },
    );
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.threads, l.busy])).toEqual([
      [1, 1],
      [2, 1],
    ]);

    const bench = spawn(process.execPath, [bin, '--backend', 'wasm', 'bench', '--model', 'lenet300', '--batch', '4', '--repeat', '1000000', '--busy', '2'], {
      stdio: 'ignore',
    });
    const childrenOf = (pid: number) => {
      const ps = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' }).stdout;
      return ps
        .split('\n')
        .filter((l) => l.includes('for (;;)'))
        .map((l) => Number(l.trim().split(' ')[0]));
    };
    const alive = (pid: number) => spawnSync('ps', ['-p', String(pid)]).status === 0;
    let busy: number[] = [];
    for (let i = 0; i < 200 && busy.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      busy = childrenOf(bench.pid!);
    }
    expect(busy).toHaveLength(2);
    bench.kill('SIGKILL');
    for (let i = 0; i < 100 && busy.some(alive); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(busy.filter(alive)).toEqual([]);
  });
});
