import type { Command } from 'commander';
import { parseMainJob } from '../../run/config.ts';
import { runMainJob } from '../../run/main-job.ts';
import { readPreset } from '../../train/config.ts';
import { backendFrom } from '../options.ts';

export function registerRun(program: Command): void {
  program
    .command('run <config>')
    .description('the whole pipeline: IRP → fit-autos → prune a target model with several criteria × sparsities × seeds → train → results.md/csv + accuracy.svg')
    .option('--out <dir>', 'run directory', 'runs/main')
    .action(async (file: string, f: { out: string }, c: Command) => {
      const config = parseMainJob(readPreset(file), file);
      const backend = await backendFrom(c);
      await runMainJob(config, f.out, backend, (s) => process.stdout.write(`${s}\n`));
    });
}
