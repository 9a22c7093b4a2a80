import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';

const BIN = path.resolve(import.meta.dirname, '../../bin/pipeline.mjs');

interface Worker {
  child: ChildProcess;
  stderr: string;
}

/**
 * Long-lived worker processes (one job at a time each): process start-up, module loading and dataset
 * decoding are paid once per worker, not once per job.
 */
export class WorkerPool {
  private readonly idle: Worker[] = [];
  private readonly waiting: Array<(w: Worker) => void> = [];
  private readonly all: Worker[] = [];

  constructor(size: number, backend: string) {
    for (let i = 0; i < size; i++) {
      const child = fork(BIN, ['--backend', backend, 'sweep-worker'], {
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        env: { ...process.env, PIPELINE_QUIET: '1' },
      });
      const w: Worker = { child, stderr: '' };
      child.stderr!.on('data', (d: Buffer) => (w.stderr = (w.stderr + d.toString()).slice(-2000)));
      this.all.push(w);
      this.release(w);
    }
  }

  private release(w: Worker): void {
    const next = this.waiting.shift();
    if (next) next(w);
    else this.idle.push(w);
  }

  private acquire(): Promise<Worker> {
    const w = this.idle.pop();
    return w ? Promise.resolve(w) : new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Runs one job file; resolves with null on success or a one-line error. */
  async run(jobFile: string): Promise<string | null> {
    const w = await this.acquire();
    const result = await new Promise<string | null>((resolve) => {
      const onMessage = (m: { ok: boolean; error?: string }) => {
        w.child.off('exit', onExit);
        resolve(m.ok ? null : (m.error ?? 'failed'));
      };
      const onExit = (code: number | null) => {
        w.child.off('message', onMessage);
        resolve(w.stderr.trim().split('\n').at(-1) || `worker exited with code ${code}`);
      };
      w.child.once('message', onMessage);
      w.child.once('exit', onExit);
      w.child.send({ jobFile });
    });
    if (w.child.exitCode === null) this.release(w);
    return result;
  }

  close(): void {
    for (const w of this.all) if (w.child.exitCode === null) w.child.kill();
  }
}
