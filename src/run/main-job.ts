import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_FEATURES, parseFeatureList } from '../autos/features.ts';
import { type FitConfig, fitAutos } from '../autos/fit.ts';
import type { BackendInfo } from '../engine/backend.ts';
import { writeManifest } from '../io/manifest.ts';
import { runIrp } from '../irp/run.ts';
import { claimRunDir } from '../io/rundir.ts';
import { withRunLock } from '../io/run-lock.ts';
import { createModel } from '../models/index.ts';
import { checkStructured } from '../prune/structured/stage.ts';
import { checkAllocation } from '../prune/allocation.ts';
import { CRITERIA, getCriterion } from '../prune/criteria/index.ts';
import type { PruneConfig } from '../prune/run.ts';
import { DENSE_SERIES, denseJobConfig, jobResult, type ResultRow, writeResults } from '../report/results.ts';
import { JobsFailedError, type PoolShape, type PruneJob, jobName, readJobReport, resolvePool, runJobs } from '../sweep/jobs.ts';
import { defaultTrainPreset, mergeConfig, parseTrainConfig, readPreset } from '../train/config.ts';
import type { MainJobConfig } from './config.ts';

/** 'grasp' | 'autos@<allocation>' | 'structured:crop' (channel pruning; its density is the kept fraction of channels). */
export function splitCriterion(entry: string): { criterion: string; allocation: string; structured: boolean } {
  const structured = entry.startsWith('structured:');
  const [criterion, allocation = 'global'] = (structured ? entry.slice('structured:'.length) : entry).split('@');
  return { criterion, allocation, structured };
}

export function validateMainJob(config: MainJobConfig): void {
  createModel(config.irp.model, { width: config.irp.width });
  const target = createModel(config.prune.model, { width: config.prune.width });
  for (const entry of config.prune.criteria) {
    const { criterion, allocation, structured } = splitCriterion(entry);
    getCriterion(criterion);
    checkAllocation(allocation, Object.keys(CRITERIA));
    if (structured) for (const s of config.prune.sparsities) checkStructured(target, criterion, 1 - s, { allocation, scope: 'global' });
  }
  if (config.autos.features) parseFeatureList(config.autos.features.join(','));
}

export interface MainJobOptions {
  /** Stage 3's worker processes and threads per worker (--jobs, --threads); unset ones fill the cores. */
  jobs?: number;
  threads?: number;
  /** Told the stage-3 pool's shape before its jobs run (e.g. to print the oversubscription note). */
  onPool?: (shape: PoolShape) => void;
}

/** Stage 3's jobs in table order: `<out>/prune/<entry>_s<sparsity>_seed<seed>_<config hash>`. */
export function mainJobPlan(config: MainJobConfig, autosDir: string, table: string): Array<PruneJob & { entry: string; sparsity: number; seed: number }> {
  const p = config.prune;
  const preset = defaultTrainPreset(p.model, p.dataset);
  const pruned = p.criteria.flatMap((entry) =>
    p.sparsities.flatMap((sparsity) =>
      p.seeds.map((seed) => {
        const { criterion, allocation, structured } = splitCriterion(entry);
        const train = parseTrainConfig(mergeConfig(preset ? readPreset(preset) : {}, { ...p.train, model: p.model, width: p.width, dataset: p.dataset, seed }), 'main job');
        const job: PruneConfig = {
          criterion,
          allocation,
          autos: criterion === 'autos' ? autosDir : undefined,
          table: criterion === 'lottery' ? table : undefined,
          model: p.model,
          width: p.width,
          dataset: p.dataset,
          density: 1 - sparsity,
          scope: 'global',
          samplesPerClass: p.samplesPerClass,
          seed,
          temperature: 200,
          dumpScores: false,
          train,
          structured: structured || undefined,
        };
        return { entry, sparsity, seed, config: job, name: jobName(`${entry.replace(/[@:]/g, '-')}_s${sparsity}_seed${seed}`, job) };
      }),
    ),
  );
  // The baseline: the unpruned network, one job per seed, trained with the same budget.
  const dense = p.seeds.map((seed) => {
    const job = denseJobConfig(pruned.find((j) => j.seed === seed)!.config);
    return { entry: DENSE_SERIES, sparsity: 0, seed, config: job, name: jobName(`${DENSE_SERIES}_seed${seed}`, job) };
  });
  return [...dense, ...pruned];
}

/**
 * The main job: every stage in its own directory under `out`, finished stages skipped. Stage 3 runs
 * its prune jobs on the worker pool of `pipeline sweep`, each in a directory named by its config hash.
 */
export async function runMainJob(config: MainJobConfig, out: string, backend: BackendInfo, log: (s: string) => void, opts: MainJobOptions = {}): Promise<ResultRow[]> {
  validateMainJob(config); // bad input is refused before the directory is touched
  // One writer per run directory; its stage-3 job directories are locked by the workers.
  return withRunLock(out, () => runMainJobLocked(config, out, backend, log, opts));
}

async function runMainJobLocked(config: MainJobConfig, out: string, backend: BackendInfo, log: (s: string) => void, opts: MainJobOptions): Promise<ResultRow[]> {
  const started = new Date();
  validateMainJob(config);
  fs.mkdirSync(out, { recursive: true });
  log(`stage 1/3: iterative rewind pruning of ${config.irp.model} on ${config.irp.dataset}`);
  const irp = await runIrp(config.irp, { out: path.join(out, 'irp'), backend });
  log(`  final density ${(100 * irp.rounds.at(-1)!.density).toFixed(2)}%: test accuracy ${(100 * irp.rounds.at(-1)!.test_accuracy).toFixed(2)}% (dense ${(100 * irp.dense_test_accuracy).toFixed(2)}%)`);

  const autosDir = path.join(out, 'autos');
  log('stage 2/3: fitting AutoS on the survival table');
  const fitConfig: FitConfig = {
    tables: [path.join(irp.dir, 'survival.arrow')],
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
    log(`  held-out Spearman ${m.autos.spearman.toFixed(3)} (|θ| ${m.magnitude.spearman.toFixed(3)})`);
  }

  const p = config.prune;
  const jobs = mainJobPlan(config, autosDir, path.join(irp.dir, 'survival.arrow'));
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
      log(`stage 3/3: pruning ${p.model} on ${p.dataset}: ${jobs.length} jobs (criteria × sparsities × seeds, and the dense baseline), each trained${running}`);
    },
    onJob: (j, o, progress) => {
      const job = byName.get(j.name)!;
      const what = `  [${o.done}/${o.total}] ${job.entry === DENSE_SERIES ? 'dense (unpruned)' : `${job.entry} at ${(100 * job.sparsity).toFixed(1)}% sparsity`}, seed ${job.seed}`;
      const line = o.error ? `${what}: failed: ${o.error}` : `${what}: ${(100 * readJobReport(o.dir).test_accuracy!).toFixed(2)}%${o.skipped ? ' (done before)' : ''}`;
      progress.log(() => log(line));
    },
  });
  if (r.failed.length) throw new JobsFailedError(r.failed, jobs.length);
  const rows = await writeResults(
    out,
    jobs.map((job) => jobResult(path.join(out, 'prune', job.name), job.config)),
    { slug: () => '', title: () => `${p.model} on ${p.dataset}: test accuracy after pruning at initialization` },
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
