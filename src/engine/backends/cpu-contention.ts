import fs from 'node:fs';
import os from 'node:os';

/** How often the run queue is read: often enough to follow jobs that start and stop, rarely enough to cost nothing (~20 µs a read). */
const SAMPLE_MS = 100;
/** Weight of the newest sample in the running mean: about the last second decides. */
const SMOOTHING = 0.1;

/**
 * Whether other work wants this machine's cores: the kernel's count of runnable tasks (the fourth field
 * of /proc/loadavg, which includes the thread that reads it and our own polling threads) above the
 * cores, averaged over about a second. Where /proc/loadavg does not exist it answers false (cores
 * assumed free), as the pool did before it looked.
 */
export class CpuContention {
  private excess = 0;
  private next = 0;
  private readable = true;

  constructor(
    private readonly cores = os.availableParallelism(),
    private readonly runnable: () => number | undefined = runnableTasks,
  ) {}

  /** True while the smoothed excess of runnable tasks over cores is at least half a task; `now` in ms (performance.now()). */
  contended(now: number): boolean {
    if (this.readable && now >= this.next) {
      this.next = now + SAMPLE_MS;
      const n = this.runnable();
      if (n === undefined) this.readable = false;
      else this.excess += SMOOTHING * (Math.max(0, n - this.cores) - this.excess);
    }
    return this.excess >= 0.5;
  }
}

/** Runnable scheduling entities now (Linux), or undefined where that cannot be read. */
export function runnableTasks(): number | undefined {
  try {
    const field = fs.readFileSync('/proc/loadavg', 'latin1').split(' ')[3];
    const n = Number(field?.split('/')[0]);
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}
