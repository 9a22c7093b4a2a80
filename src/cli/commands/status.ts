import type { Command } from 'commander';
import { readPreset } from '../../train/config.ts';

export function registerStatus(program: Command): void {
  program
    .command('status <dir>')
    .description("what a run or sweep directory has done: each stage's finished, running and remaining work, and its latest Slurm submission's queue state")
    .option('--config <file>', "the run's config (default: the copy in <dir>/slurm/config.json or <dir>/manifest.json)")
    .action(async (dir: string, f: { config?: string }) => {
      const { runConfigOf, runStatus, statusLines, sweepStatus } = await import('../../run/status.ts');
      const stages = (!f.config && sweepStatus(dir)) || runStatus(runConfigOf(dir, f.config ? readPreset(f.config) : undefined, f.config), dir);
      for (const line of statusLines(stages, dir)) process.stdout.write(`${line}\n`);
    });
}
