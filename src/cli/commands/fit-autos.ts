import path from 'node:path';
import type { Command } from 'commander';
import { ALL_FEATURES, DEFAULT_FEATURES, parseFeatureList } from '../../scoring/autos/features.ts';
import {
  ALLOCATION_FEATURES,
  DEFAULT_ALLOCATION_FEATURES,
  DEFAULT_ALLOCATION_LAMBDA,
  parseAllocationFeatures,
} from '../../scoring/autos/allocation-features.ts';
import type { BaselineMetrics, FitConfig } from '../../autos/fit.ts';
import { writeManifest } from '../../io/manifest.ts';
import { configHash } from '../../io/rundir.ts';
import { withRunLock } from '../../io/run-lock.ts';
import { fitFlagOf } from '../../spec/flag-keys.ts';
import { usage } from '../../util/errors.ts';
import { backendFrom, nonNegativeInt, positiveInt, positiveNumber } from '../options.ts';

interface FitFlags {
  table: string[];
  valTable?: string;
  holdout?: string;
  holdoutArch?: string[];
  allocationFeatures?: string;
  allocationLambda?: number;
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
    holdoutArch: f.holdoutArch
      ?.flatMap((h) => h.split(','))
      .map((h) => h.trim())
      .filter(Boolean),
    allocationFeatures: f.allocationFeatures ? parseAllocationFeatures(f.allocationFeatures) : undefined,
    allocationLambda: f.allocationLambda,
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
    .description(
      'fit AutoS (an MLP predicting IRP survival from θ₀, g, Hg and layer descriptors) and a per-layer density model (learned allocation); writes autos.json, weights.safetensors, allocation.json, metrics.json',
    )
    .requiredOption('--table <file...>', 'survival.arrow file(s) from pipeline irp')
    .option('--val-table <file>', 'validate on this whole table (default: held-out tensors)')
    .option('--holdout <names>', 'comma-separated tensors to hold out (default: every third, from the second)')
    .option(
      '--holdout-arch <model...>',
      "validate on these architectures (table metadata 'model', or 'model-w<width>'; repeatable or comma-separated), fitting on the others (default with tables of ≥ 2 architectures: leave-one-architecture-out)",
    )
    .option(
      '--allocation-features <list>',
      `descriptors of the learned layer allocation, from: ${ALLOCATION_FEATURES.join(',')} (default ${DEFAULT_ALLOCATION_FEATURES.join(',')})`,
    )
    .option('--allocation-lambda <x>', 'ridge λ of the learned layer allocation', positiveNumber('--allocation-lambda'), DEFAULT_ALLOCATION_LAMBDA)
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
      const [{ fitAutos }, { writeSurvivalPlots }] = await Promise.all([import('../../autos/fit.ts'), import('../../report/survival-plot.ts')]);
      const config = fitConfigFrom(f);
      const backend = await backendFrom(c);
      const out = f.out ?? path.join('runs', `autos_${configHash(config)}`);
      const started = new Date();
      const m = await withRunLock(out, async () => {
        const fitted = await fitAutos(config, out, fitFlagOf);
        await writeSurvivalPlots(out);
        writeManifest(out, { command: 'fit-autos', config: f, resolved: config, backend, timings: { seconds: fitted.seconds }, startedAt: started });
        return fitted;
      });
      const p = (x: { precision: Record<string, number> }) =>
        Object.entries(x.precision)
          .map(([d, v]) => `${(100 * Number(d)).toFixed(0)}%:${v.toFixed(3)}`)
          .join(' ');
      const rows = (r: BaselineMetrics) =>
        (
          [
            ['autos', r.autos],
            ['|θ|', r.magnitude],
            ['|θ·g|', r.snip],
            ['θ·Hg', r.grasp],
          ] as const
        )
          .filter(([, x]) => x)
          .map(
            ([name, x]) =>
              `    ${name.padEnd(6)} spearman ${x!.spearman.toFixed(3)} (in tensors ${x!.tensor_spearman?.toFixed(3) ?? '—'})  precision@density ${p(x!)}\n`,
          )
          .join('');
      process.stdout.write(
        `fitted: ${out}  held-out ${m.validation === 'leave-one-architecture-out' ? `each of ${m.architectures.join(', ')} (leave-one-architecture-out; means)` : m.validation_tensors.join(',')}` +
          `${m.constant_features.length ? `  constant on the training rows, ignored: ${m.constant_features.join(',')}` : ''}  (${m.seconds.toFixed(1)} s, ${backend.name})\n` +
          rows(m) +
          (m.shuffled_control ? `    shuffled spearman ${m.shuffled_control.spearman.toFixed(3)}  precision@density ${p(m.shuffled_control)}\n` : ''),
      );
      for (const [a, r] of Object.entries(m.per_architecture ?? {})) {
        process.stdout.write(
          `  held-out ${a}: allocation misallocated ${(100 * r.allocation.misallocated_final).toFixed(1)}% at the last round (layer ${(100 * r.allocation.misallocated_layer_final).toFixed(1)}%, erk ${(100 * r.allocation.misallocated_erk_final).toFixed(1)}%)\n` +
            rows(r),
        );
      }
    });
}
