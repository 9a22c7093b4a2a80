import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_FEATURES, parseFeatureList } from '../autos/features.ts';
import { type FitConfig, fitAutos } from '../autos/fit.ts';
import type { BackendInfo } from '../engine/backend.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { writeManifest } from '../io/manifest.ts';
import { runIrp } from '../irp/run.ts';
import { claimRunDir } from '../io/rundir.ts';
import { createModel } from '../models/index.ts';
import { checkStructured } from '../prune/structured/stage.ts';
import { checkAllocation } from '../prune/allocation.ts';
import { CRITERIA, getCriterion } from '../prune/criteria/index.ts';
import type { PruneConfig } from '../prune/run.ts';
import { accuracyVsSparsityPlot, writeSvg } from '../report/plots.ts';
import { JobsFailedError, type PoolShape, type PruneJob, jobName, readJobReport, runJobs } from '../sweep/jobs.ts';
import { defaultTrainPreset, mergeConfig, parseTrainConfig, readPreset } from '../train/config.ts';
import type { MainJobConfig } from './config.ts';

export interface ResultRow {
  criterion: string;
  sparsity: number;
  seed: number;
  density: number;
  test_accuracy: number;
  test_loss: number;
  grad_norm_ratio: number | null;
  seconds: number;
}

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

function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

export function resultTables(rows: ResultRow[], criteria: string[], sparsities: number[]): { csv: string; markdown: string } {
  const csv = ['criterion,sparsity,seed,density,test_accuracy,test_loss,grad_norm_ratio,seconds']
    .concat(rows.map((r) => [r.criterion, r.sparsity, r.seed, r.density, r.test_accuracy, r.test_loss, r.grad_norm_ratio ?? '', r.seconds.toFixed(2)].join(',')))
    .join('\n');
  const head = `| criterion | ${sparsities.map((s) => `${(100 * s).toFixed(1)}% sparse`).join(' | ')} |`;
  const rule = `|---|${sparsities.map(() => '---').join('|')}|`;
  const lines = criteria.map((c) => {
    const cells = sparsities.map((s) => {
      const accs = rows.filter((r) => r.criterion === c && r.sparsity === s).map((r) => 100 * r.test_accuracy);
      if (!accs.length) return '–';
      const { mean, std } = meanStd(accs);
      return accs.length > 1 ? `${mean.toFixed(2)} ± ${std.toFixed(2)}` : mean.toFixed(2);
    });
    return `| ${c} | ${cells.join(' | ')} |`;
  });
  return { csv: csv + '\n', markdown: ['Test accuracy (%), mean ± std over seeds', '', head, rule, ...lines].join('\n') + '\n' };
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
  return p.criteria.flatMap((entry) =>
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
}

/**
 * The main job: every stage in its own directory under `out`, finished stages skipped. Stage 3 runs
 * its prune jobs on the worker pool of `pipeline sweep`, each in a directory named by its config hash.
 */
export async function runMainJob(config: MainJobConfig, out: string, backend: BackendInfo, log: (s: string) => void, opts: MainJobOptions = {}): Promise<ResultRow[]> {
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
  let pool: PoolShape = { jobs: 0, threads: 0 };
  const r = await runJobs(jobs, {
    dir: path.join(out, 'prune'),
    jobs: opts.jobs,
    threads: opts.threads,
    backend: backend.name,
    force: false,
    label: 'stage 3/3',
    progressTtyOnly: true,
    onPool: (shape) => {
      pool = shape;
      opts.onPool?.(shape);
      const running = shape.jobs ? `, ${shape.jobs} at a time × ${shape.threads} thread${shape.threads > 1 ? 's' : ''}` : '';
      log(`stage 3/3: pruning ${p.model} on ${p.dataset}: ${jobs.length} jobs (criteria × sparsities × seeds), each trained${running}`);
    },
    onJob: (j, o, progress) => {
      const job = byName.get(j.name)!;
      const what = `  [${o.done}/${o.total}] ${job.entry} at ${(100 * job.sparsity).toFixed(1)}% sparsity, seed ${job.seed}`;
      const line = o.error ? `${what}: failed: ${o.error}` : `${what}: ${(100 * readJobReport(o.dir).test_accuracy!).toFixed(2)}%${o.skipped ? ' (done before)' : ''}`;
      progress.log(() => log(line));
    },
  });
  if (r.failed.length) throw new JobsFailedError(r.failed, jobs.length);
  const rows: ResultRow[] = jobs.map((job) => {
    const rep = readJobReport(path.join(out, 'prune', job.name));
    return {
      criterion: job.entry,
      sparsity: job.sparsity,
      seed: job.seed,
      density: rep.density,
      test_accuracy: rep.test_accuracy!,
      test_loss: rep.test_loss!,
      grad_norm_ratio: rep.grad_norm_ratio,
      seconds: rep.seconds.score + (rep.seconds.train ?? 0),
    };
  });
  const { csv, markdown } = resultTables(rows, p.criteria, p.sparsities);
  writeFileAtomic(path.join(out, 'results.csv'), csv);
  writeFileAtomic(path.join(out, 'results.md'), markdown);
  const points = p.criteria.flatMap((c) =>
    p.sparsities.map((s) => {
      const { mean, std } = meanStd(rows.filter((r) => r.criterion === c && r.sparsity === s).map((r) => r.test_accuracy));
      return { criterion: c, sparsity: s, mean, std: p.seeds.length > 1 ? std : undefined };
    }),
  );
  writeSvg(path.join(out, 'accuracy.svg'), await accuracyVsSparsityPlot(points, { title: `${p.model} on ${p.dataset}: test accuracy after pruning at initialization` }));
  writeManifest(out, { command: 'run', config, resolved: { ...config, jobs: pool.jobs, threads: pool.threads }, backend, timings: { seconds: (Date.now() - started.getTime()) / 1000 }, startedAt: started });
  log(markdown);
  return rows;
}
