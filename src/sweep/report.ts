import fs from 'node:fs';
import path from 'node:path';
import { Float64, Int32, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { writeArrowFile } from '../io/arrow.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { isFinished } from '../io/rundir.ts';
import type { PruneConfig, PruneReport } from '../prune/run.ts';
import { accuracyVsSparsityPlot, layerDensityPlot, writeSvg } from '../report/plots.ts';
import { usage } from '../util/errors.ts';

export interface SweepRow {
  target: string;
  criterion: string;
  /** The job's target density (for structured:* entries, of channels). */
  density: number;
  /** Kept fraction of prunable weights actually reached. */
  param_density: number;
  seed: number;
  accuracy: number | null;
  loss: number | null;
  grad_norm_ratio: number | null;
  wall_seconds: number;
  report: PruneReport;
}

export function collectRows(out: string): SweepRow[] {
  const jobsDir = path.join(out, 'jobs');
  if (!fs.existsSync(jobsDir)) usage(`${out} holds no sweep (no jobs/ directory); run 'pipeline sweep' first`);
  const rows: SweepRow[] = [];
  for (const name of fs.readdirSync(jobsDir).sort()) {
    const dir = path.join(jobsDir, name);
    if (!isFinished(dir)) continue;
    const { config } = JSON.parse(fs.readFileSync(path.join(dir, 'job.json'), 'utf8')) as { config: PruneConfig };
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) as PruneReport;
    rows.push({
      target: `${config.model}${config.width ? `-w${config.width}` : ''}/${config.dataset}`,
      criterion: `${config.structured ? 'structured:' : ''}${config.criterion}${config.allocation && config.allocation !== 'global' ? `@${config.allocation}` : ''}`,
      density: config.density,
      param_density: report.density,
      seed: config.seed,
      accuracy: report.test_accuracy ?? null,
      loss: report.test_loss ?? null,
      grad_norm_ratio: report.grad_norm_ratio,
      wall_seconds: report.seconds.score + report.seconds.grad_norm + (report.seconds.train ?? 0),
      report,
    });
  }
  return rows;
}

const stats = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
};

const unique = <T>(xs: T[]) => [...new Set(xs)];

/** results.csv / results.arrow (one row per job), results.md (mean ± std over seeds) and SVG plots. */
export async function writeSweepReport(out: string): Promise<SweepRow[]> {
  const rows = collectRows(out);
  const cols = ['target', 'criterion', 'density', 'param_density', 'seed', 'accuracy', 'loss', 'grad_norm_ratio', 'wall_seconds'] as const;
  const csv = [cols.join(','), ...rows.map((r) => cols.map((c) => r[c] ?? '').join(','))].join('\n') + '\n';
  writeFileAtomic(path.join(out, 'results.csv'), csv);
  const nums = (f: (r: SweepRow) => number | null) => vectorFromArray(rows.map((r) => f(r) ?? NaN), new Float64());
  writeArrowFile(
    path.join(out, 'results.arrow'),
    new Table({
      target: vectorFromArray(rows.map((r) => r.target), new Utf8()),
      criterion: vectorFromArray(rows.map((r) => r.criterion), new Utf8()),
      density: nums((r) => r.density),
      param_density: nums((r) => r.param_density),
      seed: vectorFromArray(rows.map((r) => r.seed), new Int32()),
      accuracy: nums((r) => r.accuracy),
      loss: nums((r) => r.loss),
      grad_norm_ratio: nums((r) => r.grad_norm_ratio),
      wall_seconds: nums((r) => r.wall_seconds),
    }),
  );
  const md: string[] = [];
  for (const target of unique(rows.map((r) => r.target))) {
    const mine = rows.filter((r) => r.target === target);
    const densities = unique(mine.map((r) => r.density)).sort((a, b) => b - a);
    const criteria = unique(mine.map((r) => r.criterion));
    const metric = mine.some((r) => r.accuracy !== null) ? 'test accuracy (%)' : 'gradient-norm ratio';
    const value = (r: SweepRow) => (r.accuracy !== null ? 100 * r.accuracy : (r.grad_norm_ratio ?? NaN));
    md.push(`## ${target}: ${metric}, mean ± std over seeds`, '', `| criterion | ${densities.map((d) => `${(100 * (1 - d)).toFixed(1)}% sparse`).join(' | ')} |`, `|---|${densities.map(() => '---').join('|')}|`);
    const points: Array<{ criterion: string; sparsity: number; mean: number; std?: number }> = [];
    for (const c of criteria) {
      const cells = densities.map((d) => {
        const runs = mine.filter((r) => r.criterion === c && r.density === d);
        const xs = runs.map(value).filter(Number.isFinite);
        if (!xs.length) return '–';
        const { mean, std } = stats(xs);
        // Plotted at the weight sparsity reached, so channel-pruned points sit beside unstructured ones of equal size.
        points.push({ criterion: c, sparsity: 1 - stats(runs.map((r) => r.param_density)).mean, mean, std: xs.length > 1 ? std : undefined });
        return xs.length > 1 ? `${mean.toFixed(2)} ± ${std.toFixed(2)}` : mean.toFixed(2);
      });
      md.push(`| ${c} | ${cells.join(' | ')} |`);
    }
    if (criteria.some((c) => c.startsWith('structured:'))) {
      md.push('', 'structured:* rows: the column is the kept fraction of channels; the weight density each reached is param_density in results.csv (the plot uses it).');
    }
    md.push('');
    const slug = target.replace(/[^a-z0-9-]+/gi, '_');
    writeSvg(path.join(out, `accuracy_${slug}.svg`), await accuracyVsSparsityPlot(points, { title: `${target}: ${metric} vs sparsity` }));
    for (const d of densities) {
      const series = criteria
        .map((c) => mine.find((r) => r.criterion === c && r.density === d))
        .filter((r): r is SweepRow => r !== undefined)
        .map((r) => ({ criterion: r.criterion, layers: r.report.layers.map((l) => ({ name: l.name, density: l.density })) }));
      writeSvg(path.join(out, `layer-density_${slug}_d${d}.svg`), await layerDensityPlot(series, { title: `${target}: kept fraction per layer at ${(100 * d).toFixed(2)}% density` }));
    }
  }
  writeFileAtomic(path.join(out, 'results.md'), md.join('\n'));
  return rows;
}
