import { describe, expect, it } from 'vitest';
import { CpuContention, runnableTasks } from '../../src/engine/backends/cpu-contention.ts';

/** Feeds `counts` as successive run-queue readings, one per 100 ms of the fake clock; returns the answers. */
function answers(cores: number, counts: Array<number | undefined>): boolean[] {
  let i = 0;
  const c = new CpuContention(cores, () => counts[i++]);
  return counts.map((_, k) => c.contended(k * 100));
}

describe('cpu contention (when the wasm pool stops polling)', () => {
  it('is off while runnable tasks fit the cores, and on within a second of two busy processes joining', () => {
    const quiet = answers(2, Array(20).fill(2));
    expect(quiet.every((x) => !x)).toBe(true);
    const busy = answers(2, [...Array(10).fill(2), ...Array(20).fill(4)]);
    expect(busy.slice(0, 10).every((x) => !x)).toBe(true);
    // mean of excess 2 after k samples: 2(1 − 0.9^k) ≥ 0.5 from k = 3 on
    expect(busy.indexOf(true)).toBe(12);
    expect(busy.slice(12).every((x) => x)).toBe(true);
  });

  it('goes off again once the other work ends, and ignores a lone spike', () => {
    const r = answers(2, [...Array(20).fill(4), ...Array(40).fill(2)]);
    expect(r[19]).toBe(true);
    expect(r[59]).toBe(false);
    expect(answers(8, [8, 8, 14, 8, 8, 8]).some((x) => x)).toBe(true); // +6 once: 0.6 ≥ 0.5
    expect(answers(8, [8, 8, 12, 8, 8, 8]).some((x) => x)).toBe(false); // +4 once: 0.4
  });

  it('reads the run queue at most every 100 ms', () => {
    let reads = 0;
    const c = new CpuContention(2, () => (reads++, 2));
    for (let t = 0; t < 1000; t += 10) c.contended(t);
    expect(reads).toBe(10);
  });

  it('answers false for good where the run queue cannot be read', () => {
    let reads = 0;
    const c = new CpuContention(2, () => (reads++, undefined));
    expect([0, 100, 200].map((t) => c.contended(t))).toEqual([false, false, false]);
    expect(reads).toBe(1);
  });

  it('reads a positive run-queue length on Linux', () => {
    if (process.platform !== 'linux') return expect(runnableTasks()).toBeUndefined();
    expect(runnableTasks()).toBeGreaterThanOrEqual(1); // this thread is running
  });
});
