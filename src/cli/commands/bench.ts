import { spawn, spawnSync } from 'node:child_process';
import type { Command } from 'commander';
import { MODEL_NAMES, type ModelName } from '../../models/types.ts';
import { usage } from '../../util/errors.ts';
import { backendFrom, nonNegativeInt, positiveInt, positiveNumber } from '../options.ts';

interface BenchFlags {
  model: string;
  width?: number;
  batch: number;
  repeat: number;
  channelFraction?: number;
  profile?: boolean;
  busy?: number;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description(
      'time forward, train step and GraSP Hg; prints one JSON line (same keys as scripts/gpu/torch_reference.py); with the global --threads 1,2,… one line per thread count',
    )
    .option('--model <name>', `one of ${MODEL_NAMES.join(', ')}`, 'resnet18')
    .option('--width <n>', 'first-stage channels (resnet/vgg) or multiplier (lenet)', positiveNumber('--width'))
    .option('--batch <n>', 'batch size', positiveInt('--batch'), 32)
    .option('--repeat <n>', 'timed repeats (median reported)', positiveInt('--repeat'), 3)
    .option(
      '--channel-fraction <f>',
      'instead: dense vs structurally shrunk (every channel group × f) forward, train step, FLOPs, peak memory',
      positiveNumber('--channel-fraction'),
    )
    .option('--profile', 'also time one train step and one GraSP Hg per kernel (key "profile")')
    .option('--busy <n>', 'measure beside n busy processes (one spinning core each, as other jobs would take), key "busy"', nonNegativeInt('--busy'))
    .action(async (opts: BenchFlags, cmd: Command) => {
      const [{ runStructuredBench }, { runBench }, { createModel }, { requireChannels }] = await Promise.all([
        import('../../bench/structured.ts'),
        import('../../bench/workloads.ts'),
        import('../../models/index.ts'),
        import('../../prune/structured/stage.ts'),
      ]);
      if (opts.busy && !process.env[BUSY_STARTED]) startBusyProcesses(opts.busy);
      const counts = threadCounts(cmd);
      if (counts) return benchEachThreadCount(counts);
      const model = createModel(opts.model, { width: opts.width }); // validates before the backend starts
      const fraction = opts.channelFraction;
      if (fraction !== undefined) {
        if (!(fraction < 1)) usage(`--channel-fraction ${fraction} must be in (0, 1)`);
        requireChannels(model);
      }
      const backend = await backendFrom(cmd);
      const name = opts.model as ModelName;
      const result =
        fraction !== undefined
          ? await runStructuredBench({ model: name, width: opts.width, batch: opts.batch, repeat: opts.repeat, fraction }, backend)
          : await runBench({ model: name, width: opts.width, batch: opts.batch, repeat: opts.repeat, profile: opts.profile }, backend);
      process.stdout.write(`${JSON.stringify(opts.busy === undefined ? result : { ...result, busy: opts.busy })}\n`);
    });
}

/** `--threads 1,2,…` (a list): the thread counts to bench, each in its own process. */
function threadCounts(cmd: Command): number[] | undefined {
  const raw = (cmd.parent ?? cmd).opts().threads as string | undefined;
  if (raw === undefined || !raw.includes(',')) return undefined;
  const counts = raw.split(',').map((v) => Number(v.trim()));
  if (!counts.every((n) => Number.isInteger(n) && n > 0)) usage(`--threads must be a positive integer or a list like 1,2,4, got '${raw}'`);
  return counts;
}

/** A wasm thread pool is fixed once started, so each count runs as a child process with the same arguments. */
function benchEachThreadCount(counts: number[]): void {
  const argv = process.argv.slice(2);
  const at = argv.findIndex((a) => a === '--threads' || a.startsWith('--threads='));
  for (const n of counts) {
    const args = [...argv];
    args.splice(at, args[at] === '--threads' ? 2 : 1, `--threads=${n}`);
    const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1], ...args], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, [BUSY_STARTED]: '1' },
    });
    if (r.status !== 0) usage(`bench at --threads ${n} failed (exit ${r.status}); run it alone to see why`);
  }
}

/** Set for the per-thread-count children: the parent's busy processes are already running. */
const BUSY_STARTED = 'PIPELINE_BENCH_BUSY_STARTED';

/**
 * `n` processes that each spin one core until this process ends: killed at exit and on SIGINT/SIGTERM,
 * and each ends by itself when its IPC channel closes (this process killed with SIGKILL). The spinning
 * runs on a worker thread so that the child's own event loop can see the channel close.
 */
function startBusyProcesses(n: number): void {
  const spin = "const { Worker } = require('node:worker_threads'); new Worker('for (;;) {}', { eval: true }); process.on('disconnect', () => process.exit());";
  const children = Array.from({ length: n }, () => spawn(process.execPath, ['-e', spin], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] }));
  const stop = () => children.forEach((c) => c.kill('SIGKILL'));
  process.once('exit', stop);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)
    process.once(signal, () => (stop(), process.exit(code)));
}
