/**
 * The one results schema of `pipeline run` and `pipeline sweep`: a row per prune job (the dense
 * baseline included), written as results.csv, results.arrow and results.md, plus the plots.
 */
import path from 'node:path';
import { Float64, Int32, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { catalogEntry } from '../data/catalog.ts';
import { writeArrowFile } from '../io/arrow.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { readPruneReport } from '../prune/report-file.ts';
import type { PruneConfig } from '../prune/config.ts';
import { DENSE_SERIES, formatEntry } from '../spec/criterion-entry.ts';
import { accuracyVsSparsityPlot, layerDensityPlot, writeSvg } from './plots.ts';

/** results.csv / results.arrow columns, in order (documented in docs/formats.md). */
export const RESULT_COLUMNS = [
  'target',
  'criterion',
  'epochs',
  'steps',
  'sparsity',
  'density',
  'param_density',
  'effective_density',
  'seed',
  'accuracy',
  'loss',
  'grad_norm_ratio',
  'min_layer_kept',
  'wall_seconds',
] as const;

export interface ResultRow {
  /** `<model>[-w<width>]/<dataset>`. */
  target: string;
  /** The configured entry (`snip`, `autos@synflow`, `structured:crop`), or `dense` for the unpruned baseline. */
  criterion: string;
  /** Training budget: epochs, and the step cap if any; null when the jobs were not trained. */
  epochs: number | null;
  steps: number | null;
  /** The job's target sparsity, 1 − density. */
  sparsity: number;
  /** The job's target density (for structured:* entries, of channels). */
  density: number;
  /** Kept fraction of prunable weights actually reached. */
  param_density: number;
  /** Kept weights on some input→output path ÷ prunable weights; null for structured jobs and older reports. */
  effective_density: number | null;
  seed: number;
  /** Final test accuracy (fraction) and loss; null when not trained. */
  accuracy: number | null;
  loss: number | null;
  /** ‖g‖ of the pruned over the dense net at θ₀ (GraSP's Figure 2). */
  grad_norm_ratio: number | null;
  /** Fewest weights kept in any prunable tensor (null for jobs recorded before it was reported). */
  min_layer_kept: number | null;
  /** Scoring + gradient norm + training seconds of the job. */
  wall_seconds: number;
}

/** A finished job's row plus its per-layer densities (for the layer-density plots). */
export interface JobResult {
  row: ResultRow;
  layers: Array<{ name: string; density: number }>;
}

/** 1 − 0.9 is 0.09999999999999998 in binary floating point; tables show 0.1. */
const round12 = (x: number) => Number(x.toPrecision(12));

export function jobResult(dir: string, config: PruneConfig): JobResult {
  const report = readPruneReport(dir);
  return {
    row: {
      target: `${config.model}${config.width ? `-w${config.width}` : ''}/${config.dataset}`,
      criterion: formatEntry(config),
      epochs: config.train ? config.train.epochs : null,
      steps: config.train?.steps ?? null,
      sparsity: round12(1 - config.density),
      density: round12(config.density),
      param_density: report.density,
      effective_density: report.effective_density ?? null,
      seed: config.seed,
      accuracy: report.test_accuracy ?? null,
      loss: report.test_loss ?? null,
      grad_norm_ratio: report.grad_norm_ratio,
      min_layer_kept: report.min_layer_kept ?? null,
      wall_seconds: report.seconds.score + report.seconds.grad_norm + (report.seconds.train ?? 0),
    },
    layers: report.layers.map((l) => ({ name: l.name, density: l.density })),
  };
}

export function resultsCsv(rows: ResultRow[]): string {
  const cell = (v: string | number | null) => (v === null ? '' : String(v));
  return [RESULT_COLUMNS.join(','), ...rows.map((r) => RESULT_COLUMNS.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

export function resultsTable(rows: ResultRow[]): Table {
  const text = (f: (r: ResultRow) => string) => vectorFromArray(rows.map(f), new Utf8());
  const num = (f: (r: ResultRow) => number | null) => vectorFromArray(rows.map(f), new Float64());
  const int = (f: (r: ResultRow) => number | null) => vectorFromArray(rows.map(f), new Int32());
  return new Table({
    target: text((r) => r.target),
    criterion: text((r) => r.criterion),
    epochs: int((r) => r.epochs),
    steps: int((r) => r.steps),
    sparsity: num((r) => r.sparsity),
    density: num((r) => r.density),
    param_density: num((r) => r.param_density),
    effective_density: num((r) => r.effective_density),
    seed: int((r) => r.seed),
    accuracy: num((r) => r.accuracy),
    loss: num((r) => r.loss),
    grad_norm_ratio: num((r) => r.grad_norm_ratio),
    min_layer_kept: int((r) => r.min_layer_kept),
    wall_seconds: num((r) => r.wall_seconds),
  });
}

const unique = <T>(xs: T[]) => [...new Set(xs)];

export function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

/** The training budget as trained: with a step cap, whichever of the epochs and the cap ended first. */
export function budgetText(epochs: number | null, steps: number | null): string {
  if (epochs === null) return 'untrained';
  const e = `${epochs} epoch${epochs === 1 ? '' : 's'}`;
  return steps === null ? `trained ${e}` : `trained ${e} or ${steps} steps, whichever ended first`;
}

/** Chance accuracy (1 / classes) of a catalogued dataset, else undefined. */
export function chanceOf(dataset: string): number | undefined {
  const classes = catalogEntry(dataset)?.classes;
  return classes ? 1 / classes : undefined;
}

/** One group per target × budget: a table and a plot each. */
export interface ResultGroup {
  target: string;
  dataset: string;
  epochs: number | null;
  steps: number | null;
  rows: ResultRow[];
  layers: Map<ResultRow, JobResult['layers']>;
}

export function groupResults(results: JobResult[]): ResultGroup[] {
  const groups = new Map<string, ResultGroup>();
  for (const { row, layers } of results) {
    const key = JSON.stringify([row.target, row.epochs, row.steps]);
    let g = groups.get(key);
    if (!g)
      groups.set(
        key,
        (g = { target: row.target, dataset: row.target.split('/').slice(1).join('/'), epochs: row.epochs, steps: row.steps, rows: [], layers: new Map() }),
      );
    g.rows.push(row);
    g.layers.set(row, layers);
  }
  return [...groups.values()];
}

interface Cell {
  mean: number;
  std?: number;
  n: number;
  lowMarked: boolean;
}

/** Markdown for one group: heading with budget and seeds, a dense row first, † on cells below chance + 5 points. */
export function groupMarkdown(g: ResultGroup): string {
  const trained = g.rows.some((r) => r.accuracy !== null);
  const value = (r: ResultRow) => (trained ? (r.accuracy === null ? NaN : 100 * r.accuracy) : (r.grad_norm_ratio ?? NaN));
  const chance = trained ? chanceOf(g.dataset) : undefined;
  const floor = chance === undefined ? undefined : 100 * chance + 5;
  const seeds = unique(g.rows.map((r) => r.seed)).sort((a, b) => a - b);
  const sparsities = unique(g.rows.filter((r) => r.criterion !== DENSE_SERIES).map((r) => r.sparsity)).sort((a, b) => a - b);
  const criteria = unique(g.rows.map((r) => r.criterion)).sort((a, b) => Number(b === DENSE_SERIES) - Number(a === DENSE_SERIES));
  const cell = (rows: ResultRow[]): Cell | undefined => {
    const xs = rows.map(value).filter(Number.isFinite);
    if (!xs.length) return undefined;
    const { mean, std } = meanStd(xs);
    return { mean, std: xs.length > 1 ? std : undefined, n: xs.length, lowMarked: floor !== undefined && mean < floor };
  };
  const show = (c: Cell | undefined) => (c ? `${c.mean.toFixed(2)}${c.std !== undefined ? ` ± ${c.std.toFixed(2)}` : ''}${c.lowMarked ? ' †' : ''}` : '–');
  const metric = trained ? 'test accuracy (%)' : 'gradient-norm ratio ‖g_pruned‖ / ‖g_dense‖ at θ₀';
  const seedText = `${seeds.length} seed${seeds.length === 1 ? '' : 's'} (${seeds.join(', ')})`;
  const lines = [
    `## ${g.target}, ${budgetText(g.epochs, g.steps)}, ${seedText}`,
    '',
    seeds.length > 1 ? `${metric}: mean ± std (sample) over the ${seeds.length} seeds.` : `${metric}: one run per cell (one seed: no spread to report).`,
    '',
    `| criterion | ${sparsities.map((s) => `${(100 * s).toFixed(1)}% sparse`).join(' | ')} |`,
    `|---|${sparsities.map(() => '---').join('|')}|`,
  ];
  let marked = false;
  for (const c of criteria) {
    const mine = g.rows.filter((r) => r.criterion === c);
    const cells = c === DENSE_SERIES ? sparsities.map(() => cell(mine)) : sparsities.map((s) => cell(mine.filter((r) => r.sparsity === s)));
    marked ||= cells.some((x) => x?.lowMarked);
    lines.push(`| ${c === DENSE_SERIES ? `${DENSE_SERIES} (0% sparse)` : c} | ${cells.map(show).join(' | ')} |`);
  }
  lines.push('');
  if (criteria.includes(DENSE_SERIES)) lines.push('dense: the unpruned network trained with the same budget and seeds (its value repeated in every column).');
  if (marked) {
    lines.push(
      `†: below chance + 5 points (chance ${(100 * chance!).toFixed(2)}%, ${Math.round(1 / chance!)} classes): the pruned network did not learn within this budget (its training loss stays near ln ${Math.round(1 / chance!)}); a longer budget may change this. It is a measurement, not a failure of the run.`,
    );
  }
  if (criteria.some((c) => c.startsWith('structured:'))) {
    lines.push(
      'structured:* rows: the column is the kept fraction of channels; the weight density each reached is param_density in results.csv (the plot uses it).',
    );
  }
  return lines.join('\n') + '\n';
}

export interface WriteResultsOptions {
  /** File stem suffix per group: '' writes accuracy.svg (pipeline run), else accuracy_<slug>.svg. */
  slug: (g: ResultGroup) => string;
  title: (g: ResultGroup) => string;
  /** A section appended to results.md after the tables (e.g. the paired statistics of `pipeline run`). */
  appendMarkdown?: (rows: ResultRow[]) => string;
}

const slugged = (stem: string, slug: string, ext: string, extra = '') => `${stem}${slug ? `_${slug}` : ''}${extra}.${ext}`;

/** results.csv, results.arrow, results.md, and per group accuracy<_slug>.svg and layer-density<_slug>_s<sparsity>.svg. */
export async function writeResults(out: string, results: JobResult[], opts: WriteResultsOptions): Promise<ResultRow[]> {
  const rows = results.map((r) => r.row);
  writeFileAtomic(path.join(out, 'results.csv'), resultsCsv(rows));
  writeArrowFile(path.join(out, 'results.arrow'), resultsTable(rows), { format: 'pipeline-results-v1', columns: RESULT_COLUMNS.join(',') });
  const md: string[] = [];
  for (const g of groupResults(results)) {
    md.push(groupMarkdown(g));
    const slug = opts.slug(g);
    const trained = g.rows.some((r) => r.accuracy !== null);
    const value = (r: ResultRow) => (trained ? (r.accuracy === null ? NaN : 100 * r.accuracy) : (r.grad_norm_ratio ?? NaN));
    const pruned = g.rows.filter((r) => r.criterion !== DENSE_SERIES);
    const dense = g.rows
      .filter((r) => r.criterion === DENSE_SERIES)
      .map(value)
      .filter(Number.isFinite);
    const points = unique(pruned.map((r) => r.criterion)).flatMap((c) =>
      unique(pruned.filter((r) => r.criterion === c).map((r) => r.density)).flatMap((d) => {
        const runs = pruned.filter((r) => r.criterion === c && r.density === d);
        const xs = runs.map(value).filter(Number.isFinite);
        if (!xs.length) return [];
        const { mean, std } = meanStd(xs);
        // Channel-pruned points at the weight sparsity they reached, beside unstructured ones of equal size.
        const sparsity = c.startsWith('structured:') ? 1 - meanStd(runs.map((r) => r.param_density)).mean : runs[0]!.sparsity;
        return [{ criterion: c, sparsity, mean, std: xs.length > 1 ? std : undefined }];
      }),
    );
    if (points.length) {
      const chance = trained ? chanceOf(g.dataset) : undefined;
      const svg = await accuracyVsSparsityPlot(points, {
        title: opts.title(g),
        yTitle: trained ? 'Test accuracy (%)' : 'Gradient-norm ratio',
        yPercent: trained,
        dense: dense.length ? meanStd(dense).mean : undefined,
        learnedAbove: chance === undefined ? undefined : 100 * chance + 5,
      });
      writeSvg(path.join(out, slugged('accuracy', slug, 'svg')), svg);
    }
    for (const s of unique(pruned.map((r) => r.sparsity)).sort((a, b) => a - b)) {
      const series = unique(pruned.map((r) => r.criterion)).flatMap((c) => {
        const r = pruned.find((x) => x.criterion === c && x.sparsity === s);
        return r ? [{ criterion: c, layers: g.layers.get(r)! }] : [];
      });
      const svg = await layerDensityPlot(series, {
        title: `${g.target}: kept fraction per layer at ${(100 * s).toFixed(1)}% sparsity (seed ${pruned.find((x) => x.sparsity === s)!.seed})`,
      });
      writeSvg(path.join(out, slugged('layer-density', slug, 'svg', `_s${s}`)), svg);
    }
  }
  if (opts.appendMarkdown) md.push(opts.appendMarkdown(rows));
  writeFileAtomic(path.join(out, 'results.md'), md.join('\n'));
  return rows;
}
