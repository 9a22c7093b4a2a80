import type { Command } from 'commander';
import { parseFeatureList } from '../../scoring/autos/features.ts';
import { CRITERION_NAMES } from '../../scoring/criteria/names.ts';
import type { PruneConfig } from '../../prune/config.ts';
import { flagOf } from '../../spec/flag-keys.ts';
import { pruneJobConfig } from '../../spec/prune-job.ts';
import { usage } from '../../util/errors.ts';
import { addTargetFlags, backendFrom, positiveInt, positiveNumber, targetOf } from '../options.ts';
import { addTrainerFlags, resolveTrainConfig } from './train.ts';

/** Flags that pass straight through to the config keep its types; the rest are parsed below. */
type PassedThrough =
  | 'criterion'
  | 'model'
  | 'width'
  | 'dataset'
  | 'dataDir'
  | 'padTo'
  | 'batchNorm'
  | 'samplesPerClass'
  | 'iterations'
  | 'reconnect'
  | 'temperature'
  | 'chunkSize'
  | 'table'
  | 'autos'
  | 'allocation'
  | 'signalFloor'
  | 'when'
  | 'earlyMaxEpochs'
  | 'structured';

interface PruneFlags extends Pick<PruneConfig, PassedThrough> {
  inputShape?: string;
  classes?: number;
  density?: string;
  sparsity?: string;
  scope: string;
  bnMode?: string;
  seed?: number;
  minLayerDensity?: string;
  dumpScores?: boolean;
  features?: string;
  criterionOption?: string[];
  train?: boolean;
  config?: string;
  out?: string;
  force?: boolean;
  [trainerFlag: string]: unknown;
}

/** `--criterion-option name=value`, repeated: { name: value }. */
function criterionOptions(pairs: string[] | undefined): Record<string, number> | undefined {
  if (!pairs?.length) return undefined;
  const out: Record<string, number> = {};
  for (const pair of pairs) {
    const m = /^([A-Za-z][A-Za-z0-9]*)=(.+)$/.exec(pair);
    const value = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(value)) usage(`--criterion-option must be name=number (e.g. steps=5), got '${pair}'`);
    if (Object.hasOwn(out, m[1])) usage(`--criterion-option ${m[1]} is given twice: give it once`);
    out[m[1]] = value;
  }
  return out;
}

function fraction(flag: string, v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) usage(`${flag} must be a number, got '${v}'`);
  return n;
}

export function pruneConfigFrom(f: PruneFlags): PruneConfig {
  if ((f.density === undefined) === (f.sparsity === undefined)) usage('give exactly one of --density (kept fraction) or --sparsity (removed fraction)');
  const density = f.density !== undefined ? fraction('--density', f.density) : 1 - fraction('--sparsity', f.sparsity!);
  if (!(density > 0 && density <= 1)) {
    usage(f.density !== undefined ? `--density ${f.density} is outside (0, 1]` : `--sparsity ${f.sparsity} is outside [0, 1)`);
  }
  if (f.scope !== 'global' && f.scope !== 'layer') usage(`--scope must be global or layer, got '${f.scope}'`);
  if (f.bnMode !== undefined && f.bnMode !== 'train' && f.bnMode !== 'eval') usage(`--bn-mode must be train or eval, got '${f.bnMode}'`);
  let inputShape: [number, number, number] | undefined;
  if (f.inputShape) {
    const dims = f.inputShape.split(/[,x×]/).map(Number);
    if (dims.length !== 3 || !dims.every((d) => Number.isInteger(d) && d > 0)) usage(`--input-shape must be H,W,C (e.g. 32,32,3), got '${f.inputShape}'`);
    inputShape = dims as [number, number, number];
  }
  const seed = f.seed ?? 0;
  const target = {
    ...targetOf(f),
    inputShape,
    numClasses: f.classes,
  };
  // Flags left out stay out of the config (their defaults are the criterion's), so its hash names only what was asked.
  const entry = {
    criterion: f.criterion,
    allocation: f.allocation,
    structured: Boolean(f.structured),
    iterations: f.iterations,
    reconnect: f.reconnect ? (true as const) : undefined,
  };
  const train = f.train
    ? resolveTrainConfig({
        ...f,
        seed,
        config: f.config,
      } as Parameters<typeof resolveTrainConfig>[0])
    : undefined;
  return pruneJobConfig(
    target,
    entry,
    density,
    seed,
    { scope: f.scope, samplesPerClass: f.samplesPerClass, temperature: f.temperature, train },
    {
      // As given, whatever the criterion (a job of sweeps and runs names them only where its entry reads them).
      autos: f.autos,
      table: f.table,
      bnMode: f.bnMode as PruneConfig['bnMode'],
      minLayerDensity: f.minLayerDensity !== undefined ? fraction('--min-layer-density', f.minLayerDensity) : undefined,
      chunkSize: f.chunkSize,
      criterionOptions: criterionOptions(f.criterionOption),
      dumpScores: Boolean(f.dumpScores),
      autosFeatures: f.features ? parseFeatureList(f.features) : undefined,
      signalFloor: f.signalFloor ? true : undefined,
      when: f.when,
      earlyMaxEpochs: f.earlyMaxEpochs,
    },
  );
}

export function registerPrune(program: Command): void {
  const cmd = addTargetFlags(
    program
      .command('prune')
      .description('prune a model at initialization; writes masks.arrow, report.json, layer-density.svg (and scores.arrow, train/)')
      .requiredOption('--criterion <name>', `one of ${CRITERION_NAMES.join(', ')}`),
    { modelRequired: true, dataset: "dataset for scoring and training ('none' for data-free criteria)", datasetDefault: 'mnist' },
  )
    .option('--input-shape <H,W,C>', 'model input with --dataset none')
    .option('--classes <n>', 'class count with --dataset none', positiveInt('--classes'))
    .option('--density <x>', 'kept fraction of prunable weights, in (0, 1]')
    .option('--sparsity <y>', 'removed fraction, in [0, 1)')
    .option('--scope <s>', 'global | layer', 'global')
    .option('--samples-per-class <n>', 'scoring sample: the first n training examples of each class', positiveInt('--samples-per-class'), 10)
    .option('--bn-mode <m>', "BN during scoring: train | eval (default: the criterion's reference)")
    .option('--iterations <k>', 'prune in k geometric rounds, re-scoring each (default 1; autos 10, synflow 100)', positiveInt('--iterations'))
    .option('--reconnect', "after pruning, replace kept weights on no input→output path by each layer's next-best ones (counts unchanged)")
    .option('--min-layer-density <x>', 'no tensor keeps less than this fraction')
    .option('--temperature <T>', "GraSP's logit temperature", positiveNumber('--temperature'), 200)
    .option(
      '--criterion-option <name=value>',
      "a hyperparameter of the criterion (repeatable; e.g. prospr: steps=3 lr=0.1; ntk-sap: draws=5 epsilon=0.01 inputsPerClass=10; default the paper's)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--chunk-size <n>', 'scoring-sample chunk (memory knob)', positiveInt('--chunk-size'))
    .option('--table <file>', "survival.arrow from 'pipeline irp' (criterion lottery)")
    .option('--autos <dir>', "fitted AutoS model directory from 'pipeline fit-autos' (criterion autos, allocation learned)")
    .option('--features <list>', 'AutoS features the model must have been fitted on (checked)')
    .option(
      '--allocation <a>',
      "layer allocation: global | layer | erk | learned (per-layer densities predicted from layer descriptors by the --autos dir's allocation.json; with the signal floor) | survival (autos: ∝ predicted survival) | <criterion>: its per-layer counts, ranking inside each layer by this criterion (default: synflow for autos, global otherwise)",
    )
    .option(
      '--signal-floor',
      'every tensor keeps ≥ min(size, max(units in, units out)) weights, the budget still met exactly (any allocation but global; always on for learned)',
    )
    .option('--dump-scores', 'write scores.arrow: layer, index, theta, grad, hg, score, kept per weight')
    .option('--train', 'train the pruned network and report test accuracy')
    .option(
      '--structured',
      'prune whole channels (crop | snip | random), --density = kept fraction of channels; removes them physically and trains the smaller dense model (writes model.json, channels.json, shrunk.safetensors)',
    )
    .option('--when <w>', "init (default) | epoch:K (prune after K dense epochs) | early (EarlyCroP's weight-distance plateau); needs --train")
    .option('--early-max-epochs <n>', 'latest epoch --when early may prune at (default: epochs − 1)', positiveInt('--early-max-epochs'))
    .option('--config <file>', 'trainer preset for --train (default pipelines/train-<model>-<dataset>.json)')
    .option('--out <dir>', 'output directory (default runs/prune-<criterion>_<config hash>)')
    .option('--force', 'recompute a finished directory');
  addTrainerFlags(cmd).action(async (flags: PruneFlags, c: Command) => {
    const config = pruneConfigFrom(flags);
    const [{ runPrune }, { writeLayerDensityPlot }] = await Promise.all([import('../../prune/run.ts'), import('../../report/prune-plot.ts')]);
    const backend = await backendFrom(c);
    const r = await runPrune(config, { out: flags.out, force: flags.force, backend, plot: writeLayerDensityPlot, names: flagOf });
    const rep = r.report;
    process.stdout.write(
      `${r.skipped ? 'already finished' : 'finished'}: ${r.dir}  ${rep.criterion} density ${(100 * rep.density).toFixed(3)}%` +
        (rep.grad_norm_ratio !== null ? `  grad-norm ratio ${rep.grad_norm_ratio.toFixed(3)}` : '') +
        (rep.structured
          ? `  channels ${(100 * rep.structured.channel_density).toFixed(1)}%  train step ${rep.structured.speedup.train_step.toFixed(2)}× faster, ${rep.structured.speedup.flops.toFixed(2)}× fewer FLOPs`
          : '') +
        (rep.min_layer !== undefined ? `  fewest kept ${rep.min_layer_kept} (${rep.min_layer})` : '') +
        (rep.test_accuracy !== undefined ? `  test accuracy ${(100 * rep.test_accuracy).toFixed(2)}%` : '') +
        `  backend ${backend.name}\n`,
    );
  });
}
