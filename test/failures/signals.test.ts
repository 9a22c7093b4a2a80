import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fakeModel, writeFixtureTable } from '../autos/survival-fixture.ts';

const bin = path.resolve(import.meta.dirname, '../../bin/pipeline.mjs');

/** Starts `args`, sends `signal` once `ready` exists, and resolves how it ended and how long after the signal. */
function killWhen(args: string[], ready: string, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: 'ignore', env: { ...process.env, PIPELINE_QUIET: '1' } });
    let sentAt = 0;
    const timer = setInterval(() => {
      if (!sentAt && fs.existsSync(ready)) {
        // Let it get into its loop first.
        setTimeout(() => {
          sentAt = performance.now();
          child.kill(signal);
        }, 1500);
        sentAt = -1;
      }
    }, 20);
    child.on('exit', (code, sig) => {
      clearInterval(timer);
      if (sentAt <= 0) reject(new Error(`exited (${code ?? sig}) before the signal was sent`));
      else resolve({ code, signal: sig, afterMs: performance.now() - sentAt });
    });
  });
}

describe('signals stop a long synchronous stage promptly', () => {
  it('SIGTERM during fit-autos: the process dies of it within 2 s, the lock is released, no model is written', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-signal-'));
    const table = path.join(root, 'big.arrow');
    const model = fakeModel('lenet300', 1, [
      [784, 300],
      [300, 100],
      [100, 10],
    ]);
    writeFixtureTable(table, model, 4, () => model.prunable.map((p) => Math.round(p.size / 2)));
    const out = path.join(root, 'autos');
    const r = await killWhen(
      ['--backend', 'cpu', 'fit-autos', '--table', table, '--features', 'abs_theta,theta_grad', '--epochs', '200', '--out', out],
      path.join(out, 'LOCK'),
      'SIGTERM',
    );
    expect(r.signal ?? r.code).toSatisfy((s: unknown) => s === 'SIGTERM' || s === 143);
    expect(r.afterMs).toBeLessThan(2000);
    expect(fs.existsSync(path.join(out, 'LOCK'))).toBe(false);
    expect(fs.existsSync(path.join(out, 'autos.json'))).toBe(false);
  });

  it('SIGINT during SynFlow’s 100 scoring rounds: dies of it within 2 s, the lock released, no masks written', async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-signal-')), 'prune');
    const args = [
      '--backend',
      'cpu',
      'prune',
      '--criterion',
      'synflow',
      '--model',
      'vgg11',
      '--width',
      '8',
      '--dataset',
      'none',
      '--input-shape',
      '32,32,1',
      '--classes',
      '10',
      '--density',
      '0.02',
      '--out',
      out,
    ];
    const r = await killWhen(args, path.join(out, 'LOCK'), 'SIGINT');
    expect(r.signal ?? r.code).toSatisfy((s: unknown) => s === 'SIGINT' || s === 130);
    expect(r.afterMs).toBeLessThan(2000);
    expect(fs.existsSync(path.join(out, 'LOCK'))).toBe(false);
    expect(fs.existsSync(path.join(out, 'masks.arrow'))).toBe(false);
  });
});
