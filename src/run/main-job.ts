import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_FEATURES, parseFeatureList } from '../autos/features.ts';
import { type FitConfig, fitAutos } from '../autos/fit.ts';
import { loadDataset } from '../data/registry.ts';
import type { BackendInfo } from '../engine/backend.ts';
import { writeManifest } from '../io/manifest.ts';
import { parseIrpConfig } from '../irp/config.ts';
import { runIrp } from '../irp/run.ts';
import { claimRunDir, configHash } from '../io/rundir.ts';
import { withRunLock } from '../io/run-lock.ts';
import { createModel } from '../models/index.ts';
import { checkStructured } from '../prune/structured/stage.ts';
import { checkAllocation } from '../prune/allocation.ts';
import { CRITERIA, defaultAllocationOf, getCriterion, jobIterationsOf } from '../prune/criteria/index.ts';
import type { PruneConfig } from '../prune/config.ts';
import { writePaired } from '../report/paired.ts';
import { writeSurvivalPlots } from '../report/survival-plot.ts';
import { DENSE_SERIES, denseJobConfig, jobResult, type ResultRow, writeResults } from '../report/results.ts';
import { JobsFailedError, type PoolShape, type PruneJob, jobName, readJobReport, resolvePool, runJobs } from '../sweep/jobs.ts';
import { defaultTrainPreset, mergeConfig, parseTrainConfig, readPreset } from '../train/config.ts';
import { UsageError, usage } from '../util/errors.ts';
import { checkMainJob, type MainJobConfig, type RunTarget, sourcesOf, targetLabel, targetSlug, targetsOf } from './config.ts';

/**
 * 'grasp' | 'autos@<allocation>' | 'structured:crop' (channel pruning; its density is the kept fraction of
 * channels), each optionally '#<rounds>' ('autos@synflow#1': one shot) and then '+reconnect'
 * (replace disconnected kept weights after pruning). Without @, the criterion's default allocation;
 * without #, its default rounds; without +reconnect, none (no key in the job config, so plain entries
 * keep their job directories).
 */
export function splitCriterion(entry: string): { criterion: string; allocation: string; structured: boolean; iterations?: number; reconnect?: true } {
  const structured = entry.startsWith('structured:');
  const [body, modifier, ...more] = (structured ? entry.slice('structured:'.length) : entry).split('+');
  if (more.length > 0 || (modifier !== undefined && modifier !== 'reconnect') || (structured && modifier !== undefined)) {
    usage(`criterion entry '${entry}': only '+reconnect' may end an entry (unstructured criteria), e.g. 'snip+reconnect'`);
  }
  const [spec, rounds, ...extra] = body.split('#');
  if (rounds !== undefined && (extra.length > 0 || !/^[1-9]\d*$/.test(rounds))) {
    usage(`criterion entry '${entry}': the rounds after # must be a positive integer, e.g. 'autos@synflow#1' for one shot`);
  }
  const [criterion, explicit] = spec.split('@');
  const iterations = rounds !== undefined ? Number(rounds) : structured ? undefined : jobIterationsOf(criterion);
  return {
    criterion,
    allocation: explicit ?? (structured ? 'global' : defaultAllocationOf(criterion)),
    structured,
    iterations,
    ...(modifier ? { reconnect: true } : {}),
  };
}

/** An entry as it appears in job directory names ('autos@synflow#1' → 'autos-synflow-1'). */
export const entrySlug = (entry: string) => entry.replace(/[@:#+]/g, '-');

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
  targetsOf(config).forEach((t, i) => {
    const where = p.targets ? `${source}: prune.targets[${i}]` : `${source}: prune`;
    const data = at(where, () => loadDataset(t.dataset, { dataDir: t.dataDir, padTo: t.padTo }));
    const target = at(where, () => createModel(t.model, { width: t.width, batchNorm: t.batchNorm, inputShape: data.train.shape, numClasses: data.numClasses }));
    for (const entry of p.criteria) {
      const { criterion, allocation, structured } = splitCriterion(entry);
      getCriterion(criterion);
      checkAllocation(allocation, Object.keys(CRITERIA));
      if (structured) for (const s of p.sparsities) checkStructured(target, criterion, 1 - s, { allocation, scope: 'global' });
    }
  });
  if (config.autos.features) parseFeatureList(config.autos.features.join(','));
}

/** A one-line input error of `f`, prefixed with where in the config it comes from. */
function at<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof UsageError) usage(`${where}: ${err.message}`);
    throw err;
  }
}

/** Stage 1's directory of each source: `<out>/irp` for the one `irp`, `<out>/irp/<model>[-w<width>]-<dataset>_<hash>` for `sources`. */
export function sourceDirs(config: MainJobConfig, out: string): string[] {
  if (!config.sources) return [path.join(out, 'irp')];
  return config.sources.map((s) => path.join(out, 'irp', `${targetSlug(s)}_${configHash(s).slice(0, 8)}`));
}

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
export function mainJobPlan(config: MainJobConfig, autosDir: string, table: string): Array<PruneJob & { target: RunTarget; entry: string; sparsity: number; seed: number }> {
  const p = config.prune;
  return targetsOf(config).flatMap((t) => {
    const prefix = p.targets ? `${targetSlug(t)}_` : '';
    const preset = defaultTrainPreset(t.model, t.dataset);
    const pruned = p.criteria.flatMap((entry) =>
      p.sparsities.flatMap((sparsity) =>
        p.seeds.map((seed) => {
          const { criterion, allocation, structured, iterations, reconnect } = splitCriterion(entry);
          const train = parseTrainConfig(
            mergeConfig(preset ? readPreset(preset) : {}, { ...p.train, model: t.model, width: t.width, batchNorm: t.batchNorm, dataset: t.dataset, dataDir: t.dataDir, padTo: t.padTo, seed }),
            'main job',
          );
          const job: PruneConfig = {
            criterion,
            allocation,
            autos: criterion === 'autos' ? autosDir : undefined,
            table: criterion === 'lottery' ? table : undefined,
            model: t.model,
            width: t.width,
            batchNorm: t.batchNorm,
            dataset: t.dataset,
            dataDir: t.dataDir,
            padTo: t.padTo,
            density: 1 - sparsity,
            scope: 'global',
            samplesPerClass: p.samplesPerClass,
            seed,
            temperature: 200,
            dumpScores: false,
            train,
            structured: structured || undefined,
            iterations,
            reconnect,
          };
          return { target: t, entry, sparsity, seed, config: job, name: jobName(`${prefix}${entrySlug(entry)}_s${sparsity}_seed${seed}`, job) };
        }),
      ),
    );
    // The baseline: the unpruned network, one job per seed, trained with the same budget.
    const dense = p.seeds.map((seed) => {
      const job = denseJobConfig(pruned.find((j) => j.seed === seed)!.config);
      return { target: t, entry: DENSE_SERIES, sparsity: 0, seed, config: job, name: jobName(`${prefix}${DENSE_SERIES}_seed${seed}`, job) };
    });
    return [...dense, ...pruned];
  });
}

/**
 * The main job: every stage in its own directory under `out`, finished stages skipped. Stage 3 runs
 * its prune jobs on the worker pool of `pipeline sweep`, each in a directory named by its config hash.
 */
export async function runMainJob(config: MainJobConfig, out: string, backend: BackendInfo, log: (s: string) => void, opts: MainJobOptions = {}): Promise<ResultRow[]> {
  validateMainJob(config, opts.source); // bad input is refused before the directory is touched
  // One writer per run directory; its stage-3 job directories are locked by the workers.
  return withRunLock(out, () => runMainJobLocked(config, out, backend, log, opts));
}

async function runMainJobLocked(config: MainJobConfig, out: string, backend: BackendInfo, log: (s: string) => void, opts: MainJobOptions): Promise<ResultRow[]> {
  const started = new Date();
  validateMainJob(config, opts.source);
  fs.mkdirSync(out, { recursive: true });
  const sources = sourcesOf(config);
  const dirs = sourceDirs(config, out);
  const tables: string[] = [];
  for (const [i, source] of sources.entries()) {
    const which = sources.length > 1 ? ` (source ${i + 1}/${sources.length})` : '';
    log(`stage 1/3: iterative rewind pruning of ${source.model}${source.width ? ` (width ${source.width})` : ''} on ${source.dataset}${which}`);
    const irp = await runIrp(source, { out: dirs[i]!, backend });
    log(`  final density ${(100 * irp.rounds.at(-1)!.density).toFixed(2)}%: test accuracy ${(100 * irp.rounds.at(-1)!.test_accuracy).toFixed(2)}% (dense ${(100 * irp.dense_test_accuracy).toFixed(2)}%)`);
    tables.push(path.join(irp.dir, 'survival.arrow'));
  }

  const autosDir = path.join(out, 'autos');
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
  claimRunDir(autosDir, fitConfig, 'an AutoS fit', { strict: true });
  if (!fs.existsSync(path.join(autosDir, 'autos.json'))) {
    const m = await fitAutos(fitConfig, autosDir);
    await writeSurvivalPlots(autosDir);
    log(`  held-out Spearman ${m.autos.spearman.toFixed(3)} (|θ| ${m.magnitude.spearman.toFixed(3)}, |θ·g| ${m.snip.spearman.toFixed(3)}${m.grasp ? `, θ·Hg ${m.grasp.spearman.toFixed(3)}` : ''})`);
  }

  const targets = targetsOf(config);
  const several = targets.length > 1;
  const jobs = mainJobPlan(config, autosDir, tables[0]!);
  const byName = new Map(jobs.map((j) => [j.name, j]));
  const r = await runJobs(jobs, {
    dir: path.join(out, 'prune'),
    jobs: opts.jobs,
    threads: opts.threads,
    backend: backend.name,
    force: false,
    label: 'stage 3/3',
    progressTtyOnly: true,
    onPool: (shape) => {
      opts.onPool?.(shape);
      const running = shape.jobs ? `, ${shape.jobs} at a time × ${shape.threads} thread${shape.threads > 1 ? 's' : ''}` : '';
      const what = several
        ? `${targets.map(targetLabel).join(', ')}: ${jobs.length} jobs (targets × criteria × sparsities × seeds, and a dense baseline per target and seed)`
        : `${targets[0]!.model} on ${targets[0]!.dataset}: ${jobs.length} jobs (criteria × sparsities × seeds, and the dense baseline)`;
      log(`stage 3/3: pruning ${what}, each trained${running}`);
    },
    onJob: (j, o, progress) => {
      const job = byName.get(j.name)!;
      const on = several ? `${targetLabel(job.target)}: ` : '';
      const what = `  [${o.done}/${o.total}] ${on}${job.entry === DENSE_SERIES ? 'dense (unpruned)' : `${job.entry} at ${(100 * job.sparsity).toFixed(1)}% sparsity`}, seed ${job.seed}`;
      const line = o.error ? `${what}: failed: ${o.error}` : `${what}: ${(100 * readJobReport(o.dir).test_accuracy!).toFixed(2)}%${o.skipped ? ' (done before)' : ''}`;
      progress.log(() => log(line));
    },
  });
  if (r.failed.length) throw new JobsFailedError(r.failed, jobs.length);
  const rows = await writeResults(
    out,
    jobs.map((job) => jobResult(path.join(out, 'prune', job.name), job.config)),
    {
      // One target: accuracy.svg; several: accuracy_<target>.svg, as in a sweep.
      slug: (g) => (several ? g.target.replace(/[^a-z0-9-]+/gi, '_') : ''),
      title: (g) => (several ? `${g.target}: test accuracy after pruning at initialization` : `${targets[0]!.model} on ${targets[0]!.dataset}: test accuracy after pruning at initialization`),
      appendMarkdown: (rows) => writePaired(out, rows),
    },
  );
  writeManifest(out, { command: 'run', config, resolved: { ...config, ...planShape(jobs.length, opts) }, backend, timings: { seconds: (Date.now() - started.getTime()) / 1000 }, startedAt: started });
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
