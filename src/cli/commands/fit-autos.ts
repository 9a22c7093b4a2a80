import path from 'node:path';
import type { Command } from 'commander';
import { ALL_FEATURES, DEFAULT_FEATURES, parseFeatureList } from '../../autos/features.ts';
import { type FitConfig, fitAutos } from '../../autos/fit.ts';
import { writeManifest } from '../../io/manifest.ts';
import { configHash } from '../../io/rundir.ts';
import { withRunLock } from '../../io/run-lock.ts';
import { usage } from '../../util/errors.ts';
import { backendFrom, nonNegativeInt, positiveInt, positiveNumber } from '../options.ts';

interface FitFlags {
  table: string[];
  valTable?: string;
  holdout?: string;
  features?: string;
  hidden: string;
  activation: string;
  loss: string;
  target: string;
  lr: number;
  batchSize: number;
  epochs: number;
  seed: number;
  maxRowsPerTensor: number;
  control?: boolean;
  out?: string;
}

export function fitConfigFrom(f: FitFlags): FitConfig {
  const hidden = f.hidden.split(',').map(Number);
  if (!hidden.every((h) => Number.isInteger(h) && h > 0)) usage(`--hidden must be comma-separated positive widths, got '${f.hidden}'`);
  if (f.activation !== 'relu' && f.activation !== 'tanh') usage(`--activation must be relu or tanh, got '${f.activation}'`);
  if (f.loss !== 'mse' && f.loss !== 'rank') usage(`--loss must be mse or rank, got '${f.loss}'`);
  if (f.target !== 'survival' && f.target !== 'rank') usage(`--target must be survival or rank, got '${f.target}'`);
  return {
    tables: f.table,
    valTable: f.valTable,
    holdout: f.holdout?.split(',').filter(Boolean),
    features: f.features ? parseFeatureList(f.features) : DEFAULT_FEATURES,
    hidden,
    activation: f.activation,
    loss: f.loss,
    target: f.target,
    lr: f.lr,
    batchSize: f.batchSize,
    epochs: f.epochs,
    seed: f.seed,
    maxRowsPerTensor: f.maxRowsPerTensor,
    control: Boolean(f.control),
  };
}

export function registerFitAutos(program: Command): void {
  program
    .command('fit-autos')
    .description('fit AutoS (an MLP predicting IRP survival from θ₀, g, Hg and layer descriptors); writes autos.json, weights.safetensors, metrics.json')
    .requiredOption('--table <file...>', 'survival.arrow file(s) from pipeline irp')
    .option('--val-table <file>', 'validate on this whole table (default: held-out tensors)')
    .option('--holdout <names>', 'comma-separated tensors to hold out (default: every third, from the second)')
    .option('--features <list>', `comma-separated, from: ${ALL_FEATURES.join(',')} (default ${DEFAULT_FEATURES.join(',')})`)
    .option('--hidden <widths>', 'MLP hidden widths', '64,64')
    .option('--activation <a>', 'relu | tanh', 'relu')
    .option('--loss <l>', 'mse (reference) | rank (pairwise logistic)', 'mse')
    .option('--target <t>', 'survival (rounds_survived/E, the reference) | rank (its percentile within the tensor)', 'survival')
    .option('--lr <x>', 'Adam learning rate (reference: 0.01)', positiveNumber('--lr'), 0.01)
    .option('--batch-size <n>', 'batch size', positiveInt('--batch-size'), 1024)
    .option('--epochs <n>', 'epochs', positiveInt('--epochs'), 10)
    .option('--seed <n>', 'seed', nonNegativeInt('--seed'), 0)
    .option('--max-rows-per-tensor <n>', 'training rows drawn per tensor at most', positiveInt('--max-rows-per-tensor'), 200_000)
    .option('--control', 'also fit on shuffled labels and report it')
    .option('--out <dir>', 'model directory (default runs/autos_<config hash>)')
    .action(async (f: FitFlags, c: Command) => {
      const config = fitConfigFrom(f);
      const backend = await backendFrom(c);
      const out = f.out ?? path.join('runs', `autos_${configHash(config)}`);
      const started = new Date();
      const m = await withRunLock(out, async () => {
        const fitted = await fitAutos(config, out);
        writeManifest(out, { command: 'fit-autos', config: f, resolved: config, backend, timings: { seconds: fitted.seconds }, startedAt: started });
        return fitted;
      });
      const p = (x: { precision: Record<string, number> }) => Object.entries(x.precision).map(([d, v]) => `${(100 * Number(d)).toFixed(0)}%:${v.toFixed(3)}`).join(' ');
      process.stdout.write(
        `fitted: ${out}  held-out ${m.validation_tensors.join(',')}  spearman ${m.autos.spearman.toFixed(3)} (|θ| ${m.magnitude.spearman.toFixed(3)})` +
          `  precision@density autos ${p(m.autos)} | |θ| ${p(m.magnitude)}${m.shuffled_control ? ` | shuffled ${p(m.shuffled_control)}` : ''}` +
          `${m.constant_features.length ? `  constant on the training rows, ignored: ${m.constant_features.join(',')}` : ''}  (${m.seconds.toFixed(1)} s, ${backend.name})\n`,
      );
    });
}
