import type { Command } from 'commander';
import { mergeConfig, parseTrainConfig, readPreset, trainRecipe } from '../../train/config.ts';
import { usage } from '../../util/errors.ts';
import { addTargetFlags, backendFrom, noteAfter, positiveInt, positiveNumber, targetOf } from '../options.ts';

interface TrainFlags {
  config?: string;
  model?: string;
  width?: number;
  dataset?: string;
  dataDir?: string;
  padTo?: number;
  batchNorm?: boolean;
  epochs?: number;
  steps?: number;
  batchSize?: number;
  optimizer?: string;
  lr?: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  schedule?: string;
  milestones?: string;
  gamma?: number;
  seed?: number;
  mask?: string;
  out?: string;
  resume?: boolean;
  force?: boolean;
}

const nonNegative = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) usage(`${flag} must be a number ≥ 0, got '${v}'`);
  return n;
};

/** Flags → a partial config to lay over the preset. */
export function trainOverrides(f: TrainFlags): Record<string, unknown> {
  return {
    ...targetOf(f),
    epochs: f.epochs,
    steps: f.steps,
    batchSize: f.batchSize,
    seed: f.seed,
    optimizer: { type: f.optimizer, lr: f.lr, momentum: f.momentum, nesterov: f.nesterov, weightDecay: f.weightDecay },
    schedule: {
      type: f.schedule,
      gamma: f.gamma,
      milestones: f.milestones?.split(',').map((s) => {
        const n = Number(s);
        if (!Number.isFinite(n) || n < 0) usage(`--milestones must be comma-separated epochs, got '${f.milestones}'`);
        return n;
      }),
    },
  };
}

/** Adds the trainer's hyperparameter flags to a command (shared by train, prune --train, irp). */
export function addTrainerFlags(cmd: Command): Command {
  return cmd
    .option('--epochs <n>', 'training epochs', positiveInt('--epochs'))
    .option('--steps <n>', 'stop after this many optimizer steps', positiveInt('--steps'))
    .option('--batch-size <n>', 'batch size', positiveInt('--batch-size'))
    .option('--optimizer <name>', 'sgd | adam')
    .option('--lr <x>', 'learning rate', positiveNumber('--lr'))
    .option('--momentum <x>', 'SGD momentum', nonNegative('--momentum'))
    .option('--nesterov', 'Nesterov momentum')
    .option('--weight-decay <x>', 'L2 weight decay', nonNegative('--weight-decay'))
    .option('--schedule <name>', 'constant | multistep | cosine | onecycle')
    .option('--milestones <list>', 'multistep epochs, e.g. 60,120')
    .option('--gamma <x>', 'multistep factor', positiveNumber('--gamma'))
    .option('--seed <n>', 'seed (init, data order, augmentation)', nonNegative('--seed'));
}

export function resolveTrainConfig(f: TrainFlags) {
  const overrides = trainOverrides(f);
  let base: Record<string, unknown> = {};
  let source = 'command line';
  if (f.config) {
    base = readPreset(f.config);
    source = f.config;
  } else if (f.model) {
    const recipe = trainRecipe(f.model, f.dataset ?? 'mnist');
    base = recipe.base;
    source = recipe.source ?? source;
    if (recipe.note) noteAfter(recipe.note);
  }
  const merged = mergeConfig(base, overrides);
  if (merged.model === undefined) usage('no model given: pass --model <name> or --config <preset>');
  return parseTrainConfig(merged, source);
}

export function registerTrain(program: Command): void {
  const cmd = addTargetFlags(
    program
      .command('train')
      .description('train a (optionally masked) model; writes metrics.jsonl, checkpoint.safetensors, result.json, manifest.json')
      .option('--config <file>', 'JSON preset (default: pipelines/train-<model>-<dataset>.json when it exists)'),
    { dataset: 'dataset name (default mnist)' },
  )
    .option('--mask <file>', 'masks.arrow to train under (pruned weights stay exactly zero)')
    .option('--out <dir>', 'output directory (default runs/train_<config hash>)')
    .option('--resume', 'continue from the directory’s checkpoint (the default; kept for scripts)')
    .option('--force', 'rerun even if the directory holds a finished run');
  addTrainerFlags(cmd).action(async (flags: TrainFlags, c: Command) => {
    const config = resolveTrainConfig(flags);
    const { runTraining } = await import('../../train/run.ts');
    const backend = await backendFrom(c);
    const r = await runTraining({ config, maskFile: flags.mask, out: flags.out, resume: flags.resume, force: flags.force, backend });
    const f = r.final;
    process.stdout.write(
      `${r.skipped ? 'already finished' : 'finished'}: ${r.dir}  test accuracy ${f ? (100 * f.test_accuracy).toFixed(2) : '?'}%` +
        `  density ${(100 * r.density).toFixed(2)}%  backend ${backend.name}\n`,
    );
  });
}
