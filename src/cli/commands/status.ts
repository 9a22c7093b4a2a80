import type { Command } from 'commander';
import { readPreset } from '../../train/config.ts';

export function registerStatus(program: Command): void {
  program
    .command('status <dir>')
    .description("what a run directory has done: each stage's finished, running and remaining work, and its latest Slurm submission's queue state")
    .option('--config <file>', "the run's config (default: the copy in <dir>/slurm/config.json or <dir>/manifest.json)")
    .action(async (dir: string, f: { config?: string }) => {
      const { runConfigOf, statusLines } = await import('../../run/status.ts');
      const config = runConfigOf(dir, f.config ? readPreset(f.config) : undefined, f.config);
      for (const line of statusLines(config, dir)) process.stdout.write(`${line}\n`);
    });
}
