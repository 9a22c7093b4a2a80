import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress, type ProgressOptions } from '../../src/util/progress.ts';

/** A non-TTY stream that records what is written, and a clock the test advances. */
function harness(env: NodeJS.ProcessEnv = {}, options: Partial<ProgressOptions> = {}) {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  let time = 1_000_000;
  const progress = createProgress({ total: 100, label: 'train', unit: 'batch', stream, now: () => time, env, ...options });
  return { lines, progress, advance: (ms: number) => (time += ms) };
}

describe('progress (non-TTY)', () => {
  it('prints at most one line per interval, then always a final line', () => {
    const { lines, progress, advance } = harness({}, { intervalMs: 30_000 });
    progress.update(1, { epoch: 1 });
    advance(10_000);
    progress.update(10);
    expect(lines).toEqual([]);
    advance(20_000);
    progress.update(20, { loss: 0.123456 });
    expect(lines).toEqual(['train: 20/100 batch (20.0%), 0.6667 batch/s, ETA 2m00s | epoch=1 loss=0.1235\n']);
    advance(29_999);
    progress.update(50);
    expect(lines).toHaveLength(1);
    advance(1);
    progress.update(60, { epoch: 2 });
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('train: 60/100 batch (60.0%), 1 batch/s, ETA 40s | epoch=2 loss=0.1235\n');
    advance(5_000);
    progress.update(100);
    progress.stop();
    progress.stop();
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('train: 100/100 batch (100.0%), 1.538 batch/s, in 1m05s | epoch=2 loss=0.1235\n');
  });

  it('defaults to a 30 s interval', () => {
    const { lines, progress, advance } = harness();
    advance(29_000);
    progress.update(5);
    advance(1_000);
    progress.update(6);
    expect(lines).toHaveLength(1);
  });

  for (const env of [{ CI: 'true' }, { PIPELINE_QUIET: '1' }]) {
    it(`prints only the final line with ${Object.keys(env)[0]} set`, () => {
      const { lines, progress, advance } = harness(env, { intervalMs: 1 });
      for (let i = 1; i <= 100; i++) {
        advance(1_000);
        progress.update(i);
      }
      expect(lines).toEqual([]);
      progress.stop();
      expect(lines).toEqual(['train: 100/100 batch (100.0%), 1 batch/s, in 1m40s\n']);
    });
  }

  it('treats CI=false as unset and ignores updates after stop', () => {
    const { lines, progress, advance } = harness({ CI: 'false' }, { intervalMs: 1_000 });
    advance(1_000);
    progress.update(1);
    expect(lines).toHaveLength(1);
    progress.stop();
    advance(1_000);
    progress.update(2);
    expect(lines).toHaveLength(2);
  });

  it('draws a bar with ETA and the extra fields on a TTY', () => {
    const written: string[] = [];
    const tty = Object.assign(
      new Writable({
        write(chunk, _encoding, done) {
          written.push(String(chunk));
          done();
        },
      }),
      { isTTY: true },
    );
    const { lines, progress } = harness({}, { stream: tty });
    progress.update(50, { loss: 1.5 });
    progress.stop();
    const output = written.join('');
    expect(output).toMatch(/train \[.*\] 50% \| 50\/100 batch \| .* elapsed, ETA .* \| loss=1\.500/);
    expect(lines).toEqual([]);
  });
});

describe('progress ETA', () => {
  const bar = (initial: number) => {
    const written: string[] = [];
    const tty = Object.assign(new Writable({ write: (chunk, _e, done) => (written.push(String(chunk)), done()) }), { isTTY: true });
    const clock = { t: 0 };
    const progress = createProgress({ total: 10, label: 'stage 3/3', unit: 'job', stream: tty, env: {}, now: () => clock.t, initial });
    return { progress, clock, output: () => written.join('') };
  };

  it('"?" until a step of this run ends: steps done before it (finished jobs) are not a rate', () => {
    const { progress, output } = bar(6);
    progress.update(6);
    progress.stop();
    expect(output()).toMatch(/6\/10 job \| .* elapsed, ETA \?/);
  });

  it('the rate counts only this run: one job in 30 s with three left is 1m30s', () => {
    const { progress, clock, output } = bar(6);
    progress.update(6);
    clock.t = 30_000;
    progress.update(7);
    progress.stop();
    expect(output()).toMatch(/7\/10 job \| .* elapsed, ETA 1m30s/);
  });
});
