import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';

const BIN = path.resolve(import.meta.dirname, '../../bin/pipeline.mjs');
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** A job's end as its worker reports it: error null on success; skipped when another process had finished it. */
export interface WorkerOutcome {
  error: string | null;
  skipped: boolean;
}

interface Worker {
  child: ChildProcess;
  stderr: string;
  /** Set while the worker runs a job: settles it. */
  finish?: (outcome: WorkerOutcome) => void;
}

export interface PoolOptions {
  /** Concrete backend name, passed to every worker as --backend. */
  backend: string;
  /** Threads per worker, passed as --threads. */
  threads: number;
}

/**
 * Long-lived worker processes (one job at a time each): process start-up, module loading and dataset
 * decoding are paid once per worker, not once per job.
 *
 * Workers never outlive the pool's process: they exit when their IPC channel closes (which also
 * happens when this process is killed with SIGKILL), and this process kills them on SIGINT, SIGTERM,
 * SIGHUP and at exit. A worker that dies during a job fails that job and is replaced.
 */
export class WorkerPool {
  private readonly idle: Worker[] = [];
  private readonly waiting: Array<(w: Worker | undefined) => void> = [];
  private readonly live = new Set<Worker>();
  private closed = false;
  /** The last words of the last worker that died, for jobs left without any worker. */
  private lastDeath = 'no worker is running';

  constructor(
    size: number,
    private readonly options: PoolOptions,
  ) {
    for (const s of SIGNALS) process.on(s, this.onSignal);
    process.on('exit', this.onExit);
    for (let i = 0; i < size; i++) this.release(this.spawn());
  }

  /** Process ids of the running workers. */
  get pids(): number[] {
    return [...this.live].map((w) => w.child.pid!).filter((p) => p !== undefined);
  }

  private spawn(): Worker {
    const child = fork(BIN, ['--backend', this.options.backend, '--threads', String(this.options.threads), 'sweep-worker'], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { ...process.env, PIPELINE_QUIET: '1' },
    });
    const w: Worker = { child, stderr: '' };
    this.live.add(w);
    child.stderr!.on('data', (d: Buffer) => (w.stderr = (w.stderr + d.toString()).slice(-2000)));
    child.on('message', (m: { ok: boolean; error?: string; skipped?: boolean }) => {
      const finish = w.finish;
      w.finish = undefined;
      finish?.({ error: m.ok ? null : (m.error ?? 'failed'), skipped: Boolean(m.skipped) });
    });
    child.on('exit', (code, signal) => {
      this.live.delete(w);
      const idleAt = this.idle.indexOf(w);
      if (idleAt >= 0) this.idle.splice(idleAt, 1);
      this.lastDeath = w.stderr.trim().split('\n').at(-1) || `worker exited with ${signal ?? `code ${code}`}`;
      const finish = w.finish;
      w.finish = undefined;
      if (finish) {
        finish({ error: this.lastDeath, skipped: false });
        // The job may have killed it (memory): the other jobs go on with a fresh worker.
        if (!this.closed) this.release(this.spawn());
      } else if (this.live.size === 0) {
        // Died idle (e.g. at start-up): nothing is left to run the waiting jobs.
        for (const next of this.waiting.splice(0)) next(undefined);
      }
    });
    return w;
  }

  private release(w: Worker): void {
    const next = this.waiting.shift();
    if (next) next(w);
    else this.idle.push(w);
  }

  private acquire(): Promise<Worker | undefined> {
    if (this.closed || this.live.size === 0) return Promise.resolve(undefined);
    const w = this.idle.pop();
    return w ? Promise.resolve(w) : new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Runs one job file: its error (null on success), and whether it was found finished already. */
  async run(jobFile: string): Promise<WorkerOutcome> {
    const w = await this.acquire();
    if (!w) return { error: this.closed ? 'the worker pool was closed' : this.lastDeath, skipped: false };
    const result = await new Promise<WorkerOutcome>((resolve) => {
      w.finish = resolve;
      w.child.send({ jobFile });
    });
    if (this.live.has(w)) this.release(w);
    return result;
  }

  /** Stops every worker (idempotent). */
  close(): void {
    this.closed = true;
    for (const s of SIGNALS) process.off(s, this.onSignal);
    process.off('exit', this.onExit);
    for (const w of this.live) w.child.kill();
    for (const next of this.waiting.splice(0)) next(undefined);
  }

  private readonly onExit = (): void => this.close();

  /** Kills the workers, then dies of the same signal (as if nobody had listened for it). */
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.close();
    process.kill(process.pid, signal);
  };
}
