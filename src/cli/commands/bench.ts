import { spawnSync } from 'node:child_process';
import type { Command } from 'commander';
import { MODEL_NAMES, type ModelName } from '../../models/types.ts';
import { usage } from '../../util/errors.ts';
import { backendFrom, positiveInt, positiveNumber } from '../options.ts';

interface BenchFlags {
  model: string;
  width?: number;
  batch: number;
  repeat: number;
  channelFraction?: number;
  profile?: boolean;
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
    .action(async (opts: BenchFlags, cmd: Command) => {
      const [{ runStructuredBench }, { runBench }, { createModel }, { requireChannels }] = await Promise.all([
        import('../../bench/structured.ts'),
        import('../../bench/workloads.ts'),
        import('../../models/index.ts'),
        import('../../prune/structured/stage.ts'),
      ]);
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
      process.stdout.write(`${JSON.stringify(result)}\n`);
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
    const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1], ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) usage(`bench at --threads ${n} failed (exit ${r.status}); run it alone to see why`);
  }
}
