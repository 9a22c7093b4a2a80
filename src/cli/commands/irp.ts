import type { Command } from 'commander';
import { parseIrpConfig } from '../../irp/config.ts';
import { mergeConfig, readPreset } from '../../train/config.ts';
import { usage } from '../../util/errors.ts';
import { addTargetFlags, backendFrom, nonNegativeInt, positiveInt, targetOf } from '../options.ts';

interface IrpFlags {
  config?: string;
  model?: string;
  width?: number;
  dataset?: string;
  dataDir?: string;
  padTo?: number;
  batchNorm?: boolean;
  criterion?: string;
  rounds?: string;
  finalDensity?: string;
  schedule?: string;
  scope?: string;
  epochsPerRound?: number;
  rewind?: string;
  seed?: number;
  out?: string;
  force?: boolean;
}

const number = (flag: string, v: string | undefined) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) usage(`${flag} must be a number, got '${v}'`);
  return n;
};

// Checked here, so a bad command-line value is blamed on the flag, not on the preset it overrides.
const roundsFlag = (v: string | undefined) => {
  const n = number('--rounds', v);
  if (n !== undefined && !(Number.isInteger(n) && n >= 1)) usage(`--rounds must be an integer ≥ 1, got '${v}'`);
  return n;
};

const finalDensityFlag = (v: string | undefined) => {
  const n = number('--final-density', v);
  if (n !== undefined && !(n > 0 && n < 1)) usage(`--final-density must be in (0, 1), got '${v}'`);
  return n;
};

export function registerIrp(program: Command): void {
  addTargetFlags(
    program
      .command('irp')
      .description('iterative rewind pruning; writes survival.arrow (per-weight rounds survived + θ₀, g, Hg) and manifest.json')
      .option('--config <file>', 'JSON preset, e.g. pipelines/irp-lenet300-mnist.json'),
    { dataset: 'dataset name' },
  )
    .option('--criterion <name>', 'pruning criterion each round (default magnitude)')
    .option('--rounds <E>', 'pruning rounds (≥ 1)')
    .option('--final-density <d>', 'kept fraction after the last round, in (0, 1)')
    .option('--schedule <s>', 'equal-count | geometric')
    .option('--scope <s>', 'global (one threshold per round, default) | layer (every tensor keeps the round density)')
    .option('--epochs-per-round <n>', 'training epochs per round', positiveInt('--epochs-per-round'))
    .option('--rewind <r>', "'init' (θ₀) or 'epoch:K' (late rewinding)")
    .option('--seed <n>', 'seed', nonNegativeInt('--seed'))
    .option('--out <dir>', 'run directory (default runs/irp_<config hash>)')
    .option('--force', 'replace the directory and recompute')
    .action(async (f: IrpFlags, c: Command) => {
      const { runIrp } = await import('../../irp/run.ts');
      const base = f.config ? readPreset(f.config) : {};
      const merged = mergeConfig(base, {
        ...targetOf(f),
        criterion: f.criterion,
        rounds: roundsFlag(f.rounds),
        finalDensity: finalDensityFlag(f.finalDensity),
        schedule: f.schedule,
        scope: f.scope,
        epochsPerRound: f.epochsPerRound,
        rewind: f.rewind,
        seed: f.seed,
      });
      if (merged.model === undefined) usage('no model given: pass --model <name> or --config <preset>');
      const config = parseIrpConfig(merged, f.config ?? 'command line');
      const backend = await backendFrom(c);
      const r = await runIrp(config, { out: f.out, force: f.force, backend });
      const last = r.rounds.at(-1)!;
      process.stdout.write(
        `${r.skipped ? 'already finished' : 'finished'}: ${r.dir}/survival.arrow  ${r.rounds.length} rounds, final density ${(100 * last.density).toFixed(2)}%` +
          `  test accuracy ${(100 * last.test_accuracy).toFixed(2)}% (dense ${(100 * r.dense_test_accuracy).toFixed(2)}%)  backend ${backend.name}\n`,
      );
    });
}
