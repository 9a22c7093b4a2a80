import type { Command } from 'commander';
import { runStructuredBench } from '../../bench/structured.ts';
import { runBench } from '../../bench/workloads.ts';
import { createModel, MODEL_NAMES, type ModelName } from '../../models/index.ts';
import { requireChannels } from '../../prune/structured/stage.ts';
import { usage } from '../../util/errors.ts';
import { backendFrom, positiveInt, positiveNumber } from '../options.ts';

interface BenchFlags {
  model: string;
  width?: number;
  batch: number;
  repeat: number;
  channelFraction?: number;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('time forward, train step and GraSP Hg; prints one JSON line (same keys as shared/reference/torch_bench.py)')
    .option('--model <name>', `one of ${MODEL_NAMES.join(', ')}`, 'resnet18')
    .option('--width <n>', 'first-stage channels (resnet/vgg) or multiplier (lenet)', positiveNumber('--width'))
    .option('--batch <n>', 'batch size', positiveInt('--batch'), 32)
    .option('--repeat <n>', 'timed repeats (median reported)', positiveInt('--repeat'), 3)
    .option('--channel-fraction <f>', 'instead: dense vs structurally shrunk (every channel group × f) forward, train step, FLOPs, peak memory', positiveNumber('--channel-fraction'))
    .action(async (opts: BenchFlags, cmd: Command) => {
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
          : runBench({ model: name, width: opts.width, batch: opts.batch, repeat: opts.repeat }, backend);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    });
}
