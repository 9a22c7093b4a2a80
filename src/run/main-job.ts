import fs from 'node:fs';
import path from 'node:path';
import { makeDirs } from '../io/atomic.ts';
import { DEFAULT_FEATURES, parseFeatureList } from '../scoring/autos/features.ts';
import { type FitConfig, fitAutos } from '../autos/fit.ts';
import { loadDataset } from '../data/registry.ts';
import type { BackendInfo } from '../engine/backend.ts';
import { writeManifest } from '../io/manifest.ts';
import { parseIrpConfig } from '../irp/config.ts';
import { runIrp } from '../irp/run.ts';
import { canonicalJson, claimRunDir, configHash, isFinished, readRunConfig, recordRunConfig, relocatable } from '../io/rundir.ts';
import { withRunLock } from '../io/run-lock.ts';
import { UsageError } from '../util/errors.ts';
import { createModel } from '../models/index.ts';
import { getCriterion } from '../scoring/criteria/index.ts';
import { writePaired } from '../report/paired.ts';
import { writeSurvivalPlots } from '../report/survival-plot.ts';
import { jobResult, type ResultRow, writeResults } from '../report/results.ts';
import { at, checkCriterionOptions, checkEntries, checkTargets } from '../spec/check.ts';
import { DENSE_SERIES, entrySlug } from '../spec/criterion-entry.ts';
import { type Level, type PlannedJob, planPruneJobs, type StemOf } from '../spec/plan.ts';
import { targetLabel, targetSlug } from '../spec/target.ts';
import { JobsFailedError, type PoolShape, resolvePool, runJobs } from '../sweep/jobs.ts';
import { readPruneReport } from '../prune/report-file.ts';
import { inShard, type Shard } from '../sweep/shard.ts';
import { checkMainJob, type MainJobConfig, sourcesOf, targetsOf } from './config.ts';
import { latestSubmission } from './slurm.ts';

/**
 * Everything checked before any directory is touched: the config's forms (checkMainJob), every
 * source's and target's dataset and model, every criterion and allocation, structured densities.
 */
export function validateMainJob(config: MainJobConfig, source = 'run config'): void {
  checkMainJob(config, source);
  const many = Boolean(config.sources);
  sourcesOf(config).forEach((s, i) => {
    const where = many ? `${source}: sources[${i}]` : `${source}: irp`;
    parseIrpConfig(s, where);
    getCriterion(s.criterion);
    const data = at(where, () => loadDataset(s.dataset, { dataDir: s.dataDir, padTo: s.padTo }));
    at(where, () => createModel(s.model, { width: s.width, batchNorm: s.batchNorm, inputShape: data.train.shape, numClasses: data.numClasses }));
  });
  const p = config.prune;
  // The AutoS model and the survival table are made by stages 2 and 1.
  checkEntries(p.criteria, source, 'prune.criteria', { autos: 'later', table: 'later' });
  checkCriterionOptions(p.criterionOptions, p.criteria, `${source}: prune`);
  checkTargets(targetsOf(config), p.criteria, levelsOf(config), p.samplesPerClass, source, (i) => (p.targets ? `prune.targets[${i}]` : 'prune'));
  if (config.autos.features) parseFeatureList(config.autos.features.join(','));
}

/** A run lists sparsities; its jobs prune to density 1 − sparsity. */
const levelsOf = (config: MainJobConfig): Level[] => config.prune.sparsities.map((sparsity) => ({ density: 1 - sparsity, sparsity }));

/** Stage 1's directory of each source: `<out>/irp` for the one `irp`, `<out>/irp/<model>[-w<width>]-<dataset>_<hash>` for `sources`. */
export function sourceDirs(config: MainJobConfig, out: string): string[] {
  if (!config.sources) return [path.join(out, 'irp')];
  return config.sources.map((s) => path.join(out, 'irp', `${targetSlug(s)}_${configHash(s).slice(0, 8)}`));
}

/** `run` has no --force: a stage directory of another configuration is the user's to remove. */
const STAGE_FIX = 'pass another --out to pipeline run, or delete that directory to redo the stage';

export interface MainJobOptions {
  /** Stage 3's worker processes and threads per worker (--jobs, --threads); unset ones fill the cores. */
  jobs?: number;
  threads?: number;
  /** Told the stage-3 pool's shape before its jobs run (e.g. to print the oversubscription note). */
  onPool?: (shape: PoolShape) => void;
  /** Names the config in one-line errors (the preset's path). */
  source?: string;
}

/**
 * Stage 3's jobs in table order, per target: its dense baseline per seed, then criteria × sparsities ×
 * seeds. One target (prune.model): `<out>/prune/<entry>_s<sparsity>_seed<seed>_<config hash>`; with
 * prune.targets each name starts with `<model>[-w<width>]-<dataset>_`.
 */
export function mainJobPlan(config: MainJobConfig, out: string): PlannedJob[] {
  const p = config.prune;
  const common = {
    samplesPerClass: p.samplesPerClass,
    scope: 'global' as const,
    temperature: 200,
    criterionOptions: p.criterionOptions,
    autos: autosDirOf(out),
    table: tablesOf(config, out)[0]!,
    train: p.train,
    source: 'main job',
    root: out,
  };
  const stem: StemOf = ({ target, entry, level, seed }) =>
    `${p.targets ? `${targetSlug(target)}_` : ''}${entry === DENSE_SERIES ? DENSE_SERIES : `${entrySlug(entry)}_s${level.sparsity}`}_seed${seed}`;
  return planPruneJobs(targetsOf(config), p.criteria, levelsOf(config), p.seeds, common, stem);
}

/**
 * The main job: every stage in its own directory under `out`, finished stages skipped. Stage 3 runs
 * its prune jobs on the worker pool of `pipeline sweep`, each in a directory named by its config hash.
 */
export async function runMainJob(
  config: MainJobConfig,
  out: string,
  backend: BackendInfo,
  log: (s: string) => void,
  opts: MainJobOptions = {},
): Promise<ResultRow[]> {
  validateMainJob(config, opts.source); // bad input is refused before the directory is touched
  // One writer per run directory; its stage-3 job directories are locked by the workers.
  return withRunLock(out, () => runMainJobLocked(config, out, backend, log, opts));
}

async function runMainJobLocked(
  config: MainJobConfig,
  out: string,
  backend: BackendInfo,
  log: (s: string) => void,
  opts: MainJobOptions,
): Promise<ResultRow[]> {
  const started = new Date();
  makeDirs(out);
  await runIrpStage(config, out, backend, log);
  await runFitStage(config, out, log);
  const r = await runPruneStage(config, out, backend, log, opts);
  if (r.failed.length) throw new JobsFailedError(r.failed, r.total);
  return writeRunResults(config, out, backend, log, opts, started);
}

/** The report stage on its own (after stage 3 ran elsewhere, e.g. as Slurm tasks): results under the run directory's lock. */
export function reportStage(config: MainJobConfig, out: string, backend: BackendInfo, log: (s: string) => void, opts: MainJobOptions): Promise<ResultRow[]> {
  const started = new Date();
  return withRunLock(out, () => writeRunResults(config, out, backend, log, opts, started));
}

/** Stage 2's directory. */
export const autosDirOf = (out: string) => path.join(out, 'autos');
/** Stage 1's survival tables, one per source, in order. */
export const tablesOf = (config: MainJobConfig, out: string) => sourceDirs(config, out).map((d) => path.join(d, 'survival.arrow'));

/** Stage 1: IRP of every source (or only source `only`), each in its own locked directory; finished ones are skipped. */
export async function runIrpStage(config: MainJobConfig, out: string, backend: BackendInfo, log: (s: string) => void, only?: number): Promise<void> {
  const sources = sourcesOf(config);
  const dirs = sourceDirs(config, out);
  if (only !== undefined && !(Number.isInteger(only) && only >= 0 && only < sources.length)) {
    throw new UsageError(`--source ${only} does not exist: the run has ${sources.length} source${sources.length > 1 ? 's' : ''} (0 … ${sources.length - 1})`);
  }
  for (const [i, source] of sources.entries()) {
    if (only !== undefined && i !== only) continue;
    const which = sources.length > 1 ? ` (source ${i + 1}/${sources.length})` : '';
    log(`stage 1/3: iterative rewind pruning of ${source.model}${source.width ? ` (width ${source.width})` : ''} on ${source.dataset}${which}`);
    const irp = await runIrp(source, { out: dirs[i]!, backend, fix: STAGE_FIX });
    log(
      `  final density ${(100 * irp.rounds.at(-1)!.density).toFixed(2)}%: test accuracy ${(100 * irp.rounds.at(-1)!.test_accuracy).toFixed(2)}% (dense ${(100 * irp.dense_test_accuracy).toFixed(2)}%)`,
    );
  }
}

/** Stage 2: AutoS fitted on every source's table (all of stage 1 must have finished). */
export async function runFitStage(config: MainJobConfig, out: string, log: (s: string) => void): Promise<void> {
  const tables = tablesOf(config, out);
  const missing = tables.filter((t) => !fs.existsSync(t) || !isFinished(path.dirname(t)));
  if (missing.length)
    throw new UsageError(`stage 2 needs every IRP source finished; not yet: ${missing.map((t) => path.dirname(t)).join(', ')} (run stage irp first)`);
  const autosDir = autosDirOf(out);
  log(`stage 2/3: fitting AutoS on ${tables.length > 1 ? `the ${tables.length} survival tables` : 'the survival table'}`);
  const fitConfig: FitConfig = {
    tables,
    features: config.autos.features ? parseFeatureList(config.autos.features.join(',')) : DEFAULT_FEATURES,
    hidden: config.autos.hidden,
    activation: 'relu',
    loss: config.autos.loss,
    target: config.autos.target,
    lr: config.autos.lr,
    batchSize: 1024,
    epochs: config.autos.epochs,
    seed: config.autos.seed,
    maxRowsPerTensor: 200_000,
    control: false,
  };
  await withRunLock(autosDir, async () => {
    const identity = relocatable(fitConfig, out);
    // A fit recorded before identities were relocatable names its tables by absolute path: the same fit.
    if (readRunConfig(autosDir) === canonicalJson(fitConfig)) recordRunConfig(autosDir, identity);
    claimRunDir(autosDir, identity, 'an AutoS fit', { strict: true, fix: STAGE_FIX });
    if (!fs.existsSync(path.join(autosDir, 'autos.json'))) {
      const m = await fitAutos(fitConfig, autosDir);
      await writeSurvivalPlots(autosDir);
      log(
        `  held-out Spearman ${m.autos.spearman.toFixed(3)} (|θ| ${m.magnitude.spearman.toFixed(3)}, |θ·g| ${m.snip.spearman.toFixed(3)}${m.grasp ? `, θ·Hg ${m.grasp.spearman.toFixed(3)}` : ''})`,
      );
    }
  });
}

/**
 * Stage 3: the prune jobs (with `task` = { index, count }, only those whose plan index ≡ index mod count:
 * one task of an array), on the worker pool of `pipeline sweep`; finished jobs are skipped. Returns the failures.
 */
export async function runPruneStage(
  config: MainJobConfig,
  out: string,
  backend: BackendInfo,
  log: (s: string) => void,
  opts: MainJobOptions & { task?: Shard } = {},
): Promise<{ failed: Array<{ name: string; error: string }>; total: number }> {
  const autosDir = autosDirOf(out);
  if (!fs.existsSync(path.join(autosDir, 'autos.json'))) throw new UsageError(`stage 3 needs the fitted AutoS model in ${autosDir} (run stage fit first)`);
  const targets = targetsOf(config);
  const several = targets.length > 1;
  const all = mainJobPlan(config, out);
  const task = opts.task;
  const jobs = task ? all.filter((_, i) => inShard(i, task)) : all;
  const byName = new Map(jobs.map((j) => [j.name, j]));
  const r = await runJobs(jobs, {
    dir: path.join(out, 'prune'),
    root: out,
    jobs: opts.jobs,
    threads: opts.threads,
    backend: backend.name,
    force: false,
    label: 'stage 3/3',
    progressTtyOnly: true,
    onPool: (shape) => {
      opts.onPool?.(shape);
      const running = shape.jobs ? `, ${shape.jobs} at a time × ${shape.threads} thread${shape.threads > 1 ? 's' : ''}` : '';
      const share = task ? ` (task ${task.index}/${task.count}: ${jobs.length} of ${all.length})` : '';
      const what = several
        ? `${targets.map(targetLabel).join(', ')}: ${all.length} jobs (targets × criteria × sparsities × seeds, and a dense baseline per target and seed)${share}`
        : `${targets[0]!.model} on ${targets[0]!.dataset}: ${all.length} jobs (criteria × sparsities × seeds, and the dense baseline)${share}`;
      log(`stage 3/3: pruning ${what}, each trained${running}`);
    },
    onJob: (j, o, progress) => {
      const job = byName.get(j.name)!;
      const on = several ? `${targetLabel(job.target)}: ` : '';
      const what = `  [${o.done}/${o.total}] ${on}${job.entry === DENSE_SERIES ? 'dense (unpruned)' : `${job.entry} at ${(100 * job.level.sparsity).toFixed(1)}% sparsity`}, seed ${job.seed}`;
      const line = o.error
        ? `${what}: failed: ${o.error}`
        : `${what}: ${(100 * readPruneReport(o.dir).test_accuracy!).toFixed(2)}%${o.skipped ? ' (done before)' : ''}`;
      progress.log(() => log(line));
    },
  });
  return { failed: r.failed, total: jobs.length };
}

/** The results of a finished stage 3: results.md/csv/arrow, paired.csv, plots and the run's manifest. */
export async function writeRunResults(
  config: MainJobConfig,
  out: string,
  backend: BackendInfo,
  log: (s: string) => void,
  opts: MainJobOptions,
  started: Date,
): Promise<ResultRow[]> {
  const targets = targetsOf(config);
  const several = targets.length > 1;
  const jobs = mainJobPlan(config, out);
  const unfinished = jobs.filter((j) => !isFinished(path.join(out, 'prune', j.name)));
  if (unfinished.length) {
    throw new UsageError(
      `${unfinished.length} of ${jobs.length} prune jobs have not finished (e.g. ${unfinished[0]!.name}): run stage prune until they have, then report`,
    );
  }
  const rows = await writeResults(
    out,
    jobs.map((job) => jobResult(path.join(out, 'prune', job.name), job.config)),
    {
      // One target: accuracy.svg; several: accuracy_<target>.svg, as in a sweep.
      slug: (g) => (several ? g.target.replace(/[^a-z0-9-]+/gi, '_') : ''),
      title: (g) =>
        several
          ? `${g.target}: test accuracy after pruning at initialization`
          : `${targets[0]!.model} on ${targets[0]!.dataset}: test accuracy after pruning at initialization`,
      appendMarkdown: (rows) => writePaired(out, rows),
    },
  );
  const slurm = latestSubmission(out);
  writeManifest(out, {
    command: 'run',
    config,
    // A run submitted with --slurm: its latest submission's job ids, scripts and logs.
    resolved: { ...config, ...planShape(jobs.length, opts), ...(slurm ? { slurm } : {}) },
    backend,
    timings: { seconds: (Date.now() - started.getTime()) / 1000 },
    startedAt: started,
  });
  log(fs.readFileSync(path.join(out, 'results.md'), 'utf8').trimEnd());
  return rows;
}

/**
 * Stage 3's worker processes × threads as resolved for all its jobs, for the manifest: the same for a
 * run resumed after a kill (whose last invocation may have had no job left to start) as for an unbroken one.
 */
function planShape(count: number, opts: { jobs?: number; threads?: number }): { jobs: number; threads: number } {
  const { jobs, threads } = resolvePool({ jobs: opts.jobs, threads: opts.threads, pending: count });
  return { jobs, threads };
}
