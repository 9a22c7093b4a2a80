import type { Command } from 'commander';
import { runBench } from '../../bench/workloads.ts';
import { createModel, MODEL_NAMES, type ModelName } from '../../models/index.ts';
import { backendFrom, positiveInt, positiveNumber } from '../options.ts';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('time forward, train step and GraSP Hg; prints one JSON line (same keys as shared/reference/torch_bench.py)')
    .option('--model <name>', `one of ${MODEL_NAMES.join(', ')}`, 'resnet18')
    .option('--width <n>', 'first-stage channels (resnet/vgg) or multiplier (lenet)', positiveNumber('--width'))
    .option('--batch <n>', 'batch size', positiveInt('--batch'), 32)
    .option('--repeat <n>', 'timed repeats (median reported)', positiveInt('--repeat'), 3)
    .action(async (opts: { model: string; width?: number; batch: number; repeat: number }, cmd: Command) => {
      createModel(opts.model, { width: opts.width }); // validates before the backend starts
      const backend = await backendFrom(cmd);
      const result = runBench({ model: opts.model as ModelName, width: opts.width, batch: opts.batch, repeat: opts.repeat }, backend);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    });
}
