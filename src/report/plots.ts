/**
 * Standalone SVG plots for pruning reports, rendered headless in Node with Vega-Lite -> Vega.
 *
 * - No browser, no `canvas` package, no network: the view is created with `renderer: 'none'` and an
 *   offline loader that refuses every load; all data are inlined into the spec.
 * - Deterministic: the same input gives a byte-identical SVG on every machine. Text widths are always
 *   *estimated* (vega's built-in heuristic) even if the optional `canvas` package happens to be installed,
 *   because canvas-measured widths depend on the fonts of the machine. SVG def ids are reset per render.
 * - The SVG is a complete document (`xmlns`, `width`, `height`, `viewBox`, white background) that any
 *   SVG viewer or converter (e.g. `rsvg-convert`) can read.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

import { writeFileAtomic } from '../io/atomic.ts';
import { DENSE_SERIES } from '../spec/criterion-entry.ts';

export interface LayerDensitySeries {
  /** Pruning criterion, e.g. "SNIP"; one colour per criterion. */
  criterion: string;
  /** Layers in network order; `density` is the kept fraction of weights in [0, 1]. */
  layers: Array<{ name: string; density: number }>;
}

export interface AccuracyPoint {
  criterion: string;
  /** Fraction of weights removed, in [0, 1). */
  sparsity: number;
  /** Mean over seeds, in the y unit (percent for accuracy). */
  mean: number;
  /** Standard deviation over seeds; drawn as an error bar (mean ± std) when given (≥ 2 seeds). */
  std?: number;
}

export interface PlotOptions {
  title?: string;
}

export interface AccuracyVsSparsityOptions extends PlotOptions {
  /** Y-axis title; default "Test accuracy (%)". */
  yTitle?: string;
  /** Y values are percentages (tick labels end in %); default true. */
  yPercent?: boolean;
  /** The dense (unpruned) network's value, same budget: a black dashed line named "dense" in the legend. */
  dense?: number;
  /**
   * Series whose every point lies below this value (e.g. chance + 5 points) do not set the y-range of
   * the main panel; they are drawn, with every other series, in a second, full-range panel below it.
   */
  learnedAbove?: number;
  /** The second panel's y-range; default [0, 100]. */
  fullRange?: [number, number];
}

const FONT = 'sans-serif';

/**
 * Grouped bar chart of the kept fraction per layer: x = layer (in the given order; the union over all series in
 * first-appearance order), one bar per criterion inside each layer group, y = density on a fixed 0..1 axis.
 * Long layer names are rotated by 45 degrees.
 */
export async function layerDensityPlot(series: LayerDensitySeries[], opts: PlotOptions = {}): Promise<string> {
  if (series.length === 0) throw new RangeError('layerDensityPlot: no series');
  const criteria = uniqueCriteria(
    series.map((s) => s.criterion),
    'layerDensityPlot',
  );
  const layerOrder: string[] = [];
  const seenLayers = new Set<string>();
  const values: Array<Record<string, string | number>> = [];
  for (const s of series) {
    const inSeries = new Set<string>();
    for (const layer of s.layers) {
      if (inSeries.has(layer.name)) {
        throw new RangeError(`layerDensityPlot: layer "${layer.name}" appears twice in series "${s.criterion}"`);
      }
      inSeries.add(layer.name);
      if (!Number.isFinite(layer.density) || layer.density < 0 || layer.density > 1) {
        throw new RangeError(`layerDensityPlot: density of "${layer.name}" in "${s.criterion}" must be in [0, 1], got ${layer.density}`);
      }
      if (!seenLayers.has(layer.name)) {
        seenLayers.add(layer.name);
        layerOrder.push(layer.name);
      }
      values.push({
        layer: layer.name,
        criterion: s.criterion,
        density: layer.density,
        description: `${s.criterion}, layer ${layer.name}: density ${formatNumber(layer.density)}`,
      });
    }
  }
  if (layerOrder.length === 0) throw new RangeError('layerDensityPlot: series have no layers');

  const step = Math.max(20, 10 * criteria.length + 6);
  const longestName = Math.max(...layerOrder.map((n) => n.length));
  // an 11px sans-serif label is about 6.5px per character; rotate when names would collide
  const rotate = longestName * 6.5 > step - 4;
  const spec: TopLevelSpec = {
    ...(opts.title === undefined ? {} : { title: opts.title }),
    background: 'white',
    padding: 10,
    width: step * layerOrder.length, // step is one layer's group of bars
    height: 200,
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      x: {
        field: 'layer',
        type: 'nominal',
        sort: layerOrder,
        title: 'Layer',
        axis: {
          labelAngle: rotate ? -45 : 0,
          ...(rotate ? { labelAlign: 'right', labelBaseline: 'top' } : {}),
          labelLimit: 240,
        },
      },
      xOffset: { field: 'criterion', type: 'nominal', sort: criteria },
      y: {
        field: 'density',
        type: 'quantitative',
        title: 'Kept fraction (density)',
        scale: { domain: [0, 1], nice: false },
        axis: { format: '.1f', tickCount: 5 },
      },
      color: colorEncoding(criteria),
      description: { field: 'description', type: 'nominal' },
    },
    config: chartConfig(),
  };
  return renderVegaLite(spec);
}

/** Okabe–Ito colours (colour-blind safe, distinct lightness), then greys; the dense line is black. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#666666', '#999999'];
const SHAPES = ['circle', 'square', 'triangle-up', 'diamond', 'cross', 'triangle-down', 'triangle-right', 'triangle-left'];
const DASHES = [
  [1, 0],
  [6, 3],
  [2, 2],
  [8, 3, 2, 3],
  [4, 4],
  [1, 3],
  [10, 4],
  [3, 6],
];

/**
 * Accuracy (y) vs sparsity (x): one line per criterion, each with its own colour, marker and dash
 * pattern (readable in greyscale), a point per measurement and, where `std` is given, an error bar.
 * x = -log10(1 - sparsity) (90 → 99 → 99.9% evenly spaced, as in the GraSP/SynFlow papers) with a
 * labelled tick at every evaluated sparsity. `dense` adds the unpruned network as a dashed black line.
 * With `learnedAbove`, series entirely below it are left out of the main panel's y-range and shown in
 * a second, full-range panel.
 */
export async function accuracyVsSparsityPlot(points: AccuracyPoint[], opts: AccuracyVsSparsityOptions = {}): Promise<string> {
  if (points.length === 0) throw new RangeError('accuracyVsSparsityPlot: no points');
  const criteria = uniqueInOrder(points.map((p) => p.criterion));
  if (criteria.includes(DENSE_SERIES)) throw new RangeError(`accuracyVsSparsityPlot: '${DENSE_SERIES}' is reserved for the dense line; pass it as opts.dense`);
  const values: Array<Record<string, string | number>> = [];
  const bars: Array<Record<string, string | number>> = [];
  for (const p of points) {
    if (!Number.isFinite(p.sparsity) || p.sparsity < 0 || p.sparsity >= 1) {
      throw new RangeError(`accuracyVsSparsityPlot: sparsity of "${p.criterion}" must be in [0, 1), got ${p.sparsity}`);
    }
    if (!Number.isFinite(p.mean)) throw new RangeError(`accuracyVsSparsityPlot: mean of "${p.criterion}" is not finite`);
    if (p.std !== undefined && (!Number.isFinite(p.std) || p.std < 0)) {
      throw new RangeError(`accuracyVsSparsityPlot: std of "${p.criterion}" must be finite and >= 0, got ${p.std}`);
    }
    const x = sparsityToDecades(p.sparsity);
    const spread = p.std === undefined ? '' : ` ± ${formatNumber(p.std)}`;
    const description = `${p.criterion}, sparsity ${formatPercent(p.sparsity)}: ${formatNumber(p.mean)}${spread}`;
    values.push({ criterion: p.criterion, x, mean: p.mean, description });
    if (p.std !== undefined) bars.push({ criterion: p.criterion, x, lo: p.mean - p.std, hi: p.mean + p.std, description });
  }
  if (opts.dense !== undefined && !Number.isFinite(opts.dense)) throw new RangeError('accuracyVsSparsityPlot: dense is not finite');

  // x: a tick at every evaluated sparsity
  const sparsities = uniqueInOrder(points.map((p) => p.sparsity)).sort((a, b) => a - b);
  const ticks = sparsities.map(sparsityToDecades);
  const span = ticks.at(-1)! - ticks[0]!;
  const pad = span > 0 ? 0.08 * span : 0.3;
  const xDomain = [ticks[0]! - pad, ticks.at(-1)! + pad];
  let labelExpr = 'format(datum.value, ".2f")';
  for (let i = ticks.length - 1; i >= 0; i--) labelExpr = `abs(datum.value - ${ticks[i]}) < 1e-9 ? ${JSON.stringify(tickLabel(sparsities[i]!))} : ${labelExpr}`;
  const x = {
    field: 'x',
    type: 'quantitative' as const,
    title: 'Sparsity (log scale of the remaining density)',
    scale: { type: 'linear', domain: xDomain, nice: false, zero: false },
    axis: { values: ticks, labelExpr, grid: true, labelOverlap: false },
  };

  const series = opts.dense === undefined ? criteria : [...criteria, DENSE_SERIES];
  if (opts.dense !== undefined)
    for (const at of xDomain) values.push({ criterion: DENSE_SERIES, x: at, mean: opts.dense, description: `dense: ${formatNumber(opts.dense)}` });
  const pick = <T>(list: T[], i: number) => list[i % list.length]!;
  const range = <T>(list: T[], dense: T) => series.map((s, i) => (s === DENSE_SERIES ? dense : pick(list, i)));
  const legend = { labelLimit: 400, symbolStrokeWidth: 2, symbolSize: 90 };
  const color = { field: 'criterion', type: 'nominal' as const, title: 'Criterion', scale: { domain: series, range: range(PALETTE, '#000000') }, legend };
  const shape = { field: 'criterion', type: 'nominal' as const, title: 'Criterion', scale: { domain: series, range: range(SHAPES, 'stroke') }, legend };
  const strokeDash = { field: 'criterion', type: 'nominal' as const, title: 'Criterion', scale: { domain: series, range: range(DASHES, [6, 4]) }, legend };

  const percent = opts.yPercent ?? true;
  const yTitle = opts.yTitle ?? 'Test accuracy (%)';
  const full = opts.fullRange ?? [0, 100];
  const below = opts.learnedAbove;
  const stuck = below === undefined ? [] : criteria.filter((c) => points.filter((p) => p.criterion === c).every((p) => p.mean < below));
  const shown = criteria.filter((c) => !stuck.includes(c));

  const panel = (names: string[], domain: number[], height: number, title?: string) => {
    const keep = { filter: { field: 'criterion', oneOf: [...names, DENSE_SERIES] } };
    const y = (field: string) => ({
      field,
      type: 'quantitative' as const,
      title: yTitle,
      scale: { domain, nice: false, zero: false },
      axis: { ...(percent ? { labelExpr: 'format(datum.value, "~g") + "%"' } : {}), tickCount: Math.max(3, Math.round(height / 40)) },
    });
    const layers: unknown[] = [
      { transform: [keep], mark: { type: 'line', strokeWidth: 2, clip: true }, encoding: { x, y: y('mean'), color, strokeDash } },
      {
        transform: [keep, { filter: { field: 'criterion', oneOf: names } }],
        mark: { type: 'point', filled: true, size: 70, opacity: 1, clip: true },
        encoding: { x, y: y('mean'), color, shape, description: { field: 'description', type: 'nominal' } },
      },
    ];
    const myBars = bars.filter((b) => names.includes(b.criterion as string));
    if (myBars.length) {
      layers.push({
        data: { values: myBars },
        mark: { type: 'errorbar', ticks: { size: 8 }, thickness: 1.5, clip: true },
        encoding: { x, y: y('lo'), y2: { field: 'hi' }, color },
      });
    }
    return { ...(title ? { title: { text: title, fontSize: 11, fontWeight: 'normal' } } : {}), width: 440, height, layer: layers };
  };

  // main panel: the range of the series that learned and the dense line
  const seen = [
    ...values.filter((v) => shown.includes(v.criterion as string) || v.criterion === DENSE_SERIES).map((v) => v.mean as number),
    ...bars.filter((b) => shown.includes(b.criterion as string)).flatMap((b) => [b.lo as number, b.hi as number]),
  ];
  const lo = Math.min(...seen);
  const hi = Math.max(...seen);
  const margin = Math.max(percent ? 1 : 0.01, 0.1 * (hi - lo));
  const step = percent ? 1 : 0.01;
  const domain = [Math.floor((lo - margin) / step) * step, Math.ceil((hi + margin) / step) * step];
  if (percent) {
    domain[0] = Math.max(full[0], domain[0]!);
    domain[1] = Math.min(full[1], domain[1]!);
  }
  const base = {
    ...(opts.title === undefined ? {} : { title: opts.title }),
    background: 'white',
    padding: 10,
    data: { values },
    config: chartConfig(),
  };
  const spec = (
    stuck.length && shown.length
      ? {
          ...base,
          vconcat: [
            panel(shown, domain, 260),
            panel(criteria, full, 110, `Full range. Below ${formatNumber(below!)}${percent ? '%' : ''} (chance + 5): ${stuck.join(', ')}`),
          ],
          resolve: { scale: { y: 'independent' } },
        }
      : { ...base, ...panel(criteria, shown.length ? domain : full, 280) }
  ) as TopLevelSpec;
  return renderVegaLite(spec);
}

/** Writes an SVG document atomically (temp file + fsync + rename), creating parent directories. */
export function writeSvg(path: string, svg: string): void {
  writeFileAtomic(path, svg.endsWith('\n') ? svg : `${svg}\n`);
}

/**
 * Compiles a Vega-Lite spec and renders it to a standalone SVG string, headless and offline.
 * Exported for ad-hoc report plots; callers must inline their data (`data: { values }`).
 */
export async function renderVegaLite(spec: TopLevelSpec): Promise<string> {
  const warnings: string[] = [];
  const logger = collectingLogger(warnings);
  const vgSpec = compile(spec, { logger }).spec;
  useEstimatedTextWidths();
  const view = new vega.View(vega.parse(vgSpec), {
    renderer: 'none',
    loader: offlineLoader,
    logger,
    logLevel: vega.Warn,
  });
  try {
    vega.resetSVGDefIds();
    const svg = await view.toSVG();
    if (warnings.length > 0) {
      // Vega's own warnings would otherwise be printed from deep inside rendering; surface them once.
      process.emitWarning(`vega: ${warnings.join('; ')}`, 'PlotWarning');
    }
    return svg;
  } finally {
    view.finalize();
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** x = -log10(1 - sparsity) = number of decades the density has dropped (90% -> 1, 99% -> 2, 99.9% -> 3). */
export function sparsityToDecades(sparsity: number): number {
  return -Math.log10(1 - sparsity);
}

/** Tick label for a whole number of decades k: "0%", "90%", "99%", "99.9%", "99.99%", ... */
export function decadeLabel(k: number): string {
  if (k <= 0) return '0%';
  if (k === 1) return '90%';
  return `99${k > 2 ? `.${'9'.repeat(k - 2)}` : ''}%`;
}

function colorEncoding(criteria: string[]) {
  return {
    field: 'criterion',
    type: 'nominal' as const,
    title: 'Criterion',
    scale: { domain: criteria, range: criteria.map((_, i) => PALETTE[i % PALETTE.length]!) },
    legend: { labelLimit: 400 },
  };
}

export function chartConfig() {
  return {
    font: FONT,
    axis: { labelFontSize: 11, titleFontSize: 12, titlePadding: 8 },
    legend: { labelFontSize: 11, titleFontSize: 12, orient: 'right' as const },
    title: { fontSize: 14, anchor: 'start' as const },
    view: { stroke: '#ddd' },
  };
}

function uniqueCriteria(names: string[], fn: string): string[] {
  const unique = uniqueInOrder(names);
  if (unique.length !== names.length) throw new RangeError(`${fn}: criterion names must be unique`);
  return unique;
}

function uniqueInOrder<T>(names: T[]): T[] {
  return [...new Set(names)];
}

function formatNumber(v: number): string {
  return Number(v.toPrecision(4)).toString();
}

/** 90%, 95%, 99.9%, 87.3% (a channel-pruned job's reached sparsity, 87.3456%): one decimal below 99%, three above. */
function tickLabel(sparsity: number): string {
  const pct = 100 * sparsity;
  return `${Number(pct.toFixed(pct >= 99 ? 3 : 1))}%`;
}

function formatPercent(sparsity: number): string {
  return `${Number((sparsity * 100).toPrecision(6)).toString()}%`;
}

function collectingLogger(sink: string[]): vega.LoggerInterface {
  let level = vega.Warn;
  const logger: vega.LoggerInterface = {
    level(l?: number) {
      if (l === undefined) return level;
      level = l;
      return logger;
    },
    error(...args: readonly unknown[]) {
      throw new Error(args.map(String).join(' '));
    },
    warn(...args: readonly unknown[]) {
      if (level >= vega.Warn) sink.push(args.map(String).join(' '));
      return logger;
    },
    info() {
      return logger;
    },
    debug() {
      return logger;
    },
  } as vega.LoggerInterface;
  return logger;
}

function refuse(what: string): Promise<never> {
  return Promise.reject(new Error(`plots: ${what} is disabled (offline rendering; inline data only)`));
}

const offlineLoader: vega.Loader = {
  load: (uri) => refuse(`loading "${uri}"`),
  sanitize: (uri) => refuse(`resolving "${uri}"`),
  http: (uri) => refuse(`fetching "${uri}"`),
  file: (filename) => refuse(`reading "${filename}"`),
};

/**
 * vega-scenegraph measures text with node-canvas when the optional `canvas` package is importable and otherwise
 * estimates widths; pin the estimate so output does not depend on what is installed. `textMetrics` is exported at
 * runtime but missing from vega's typings.
 */
function useEstimatedTextWidths(): void {
  const metrics = (vega as unknown as { textMetrics?: { canvas?: (use: boolean) => void } }).textMetrics;
  metrics?.canvas?.(false);
}
