import type { Command } from 'commander';

export function registerCompareSurvival(program: Command): void {
  program
    .command('compare-survival <a> <b>')
    .description(
      'agreement of two survival tables of one network (e.g. a short IRP recipe against a longer one): label Spearman ρ, final-survivor overlap, per-layer final densities, as JSON',
    )
    .action(async (a: string, b: string) => {
      const { compareSurvival } = await import('../../irp/compare.ts');
      process.stdout.write(`${JSON.stringify(await compareSurvival(a, b), null, 2)}\n`);
    });
}
