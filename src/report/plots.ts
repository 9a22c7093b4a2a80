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
  /** Mean accuracy (any unit; typically a fraction in [0, 1]). */
  mean: number;
  /** Standard deviation over runs; drawn as an error bar (mean ± std) when given. */
  std?: number;
}

export interface PlotOptions {
  title?: string;
}

export interface AccuracyVsSparsityOptions extends PlotOptions {
  /**
   * Default true. Plots x = -log10(1 - sparsity) = -log10(density), so 90%, 99%, 99.9% ... sparsity are evenly
   * spaced (one decade of remaining density each), as in the GraSP / SynFlow papers; ticks sit on whole decades
   * and are labelled with the sparsity ("0%", "90%", "99%", "99.9%", ...). With false, x is the sparsity on a
   * linear 0..100% axis.
   */
  logSparsity?: boolean;
  /** Y-axis title; default "Accuracy". */
  yTitle?: string;
}

const FONT = 'sans-serif';

/**
 * Grouped bar chart of the kept fraction per layer: x = layer (in the given order; the union over all series in
 * first-appearance order), one bar per criterion inside each layer group, y = density on a fixed 0..1 axis.
 * Long layer names are rotated by 45 degrees.
 */
export async function layerDensityPlot(series: LayerDensitySeries[], opts: PlotOptions = {}): Promise<string> {
  if (series.length === 0) throw new RangeError('layerDensityPlot: no series');
  const criteria = uniqueCriteria(series.map((s) => s.criterion), 'layerDensityPlot');
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
        throw new RangeError(
          `layerDensityPlot: density of "${layer.name}" in "${s.criterion}" must be in [0, 1], got ${layer.density}`,
        );
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
    width: { step },
    height: 240,
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

/**
 * Accuracy (y) vs sparsity (x): one line per criterion with a point per measurement and, where `std` is given,
 * an error bar spanning mean ± std. See `AccuracyVsSparsityOptions.logSparsity` for the x scale.
 */
export async function accuracyVsSparsityPlot(
  points: AccuracyPoint[],
  opts: AccuracyVsSparsityOptions = {},
): Promise<string> {
  if (points.length === 0) throw new RangeError('accuracyVsSparsityPlot: no points');
  const logSparsity = opts.logSparsity ?? true;
  const criteria = uniqueInOrder(points.map((p) => p.criterion));
  const values: Array<Record<string, string | number>> = [];
  const bars: Array<Record<string, string | number>> = [];
  for (const p of points) {
    const upper = logSparsity ? 1 : 1 + Number.EPSILON; // sparsity 1 has no finite -log10(density)
    if (!Number.isFinite(p.sparsity) || p.sparsity < 0 || p.sparsity >= upper) {
      throw new RangeError(
        `accuracyVsSparsityPlot: sparsity of "${p.criterion}" must be in [0, 1${logSparsity ? ')' : ']'}, got ${p.sparsity}`,
      );
    }
    if (!Number.isFinite(p.mean)) throw new RangeError(`accuracyVsSparsityPlot: mean of "${p.criterion}" is not finite`);
    if (p.std !== undefined && (!Number.isFinite(p.std) || p.std < 0)) {
      throw new RangeError(`accuracyVsSparsityPlot: std of "${p.criterion}" must be finite and >= 0, got ${p.std}`);
    }
    const x = logSparsity ? sparsityToDecades(p.sparsity) : p.sparsity;
    const spread = p.std === undefined ? '' : ` ± ${formatNumber(p.std)}`;
    const description = `${p.criterion}, sparsity ${formatPercent(p.sparsity)}: accuracy ${formatNumber(p.mean)}${spread}`;
    values.push({ criterion: p.criterion, x, mean: p.mean, description });
    if (p.std !== undefined) {
      bars.push({ criterion: p.criterion, x, lo: p.mean - p.std, hi: p.mean + p.std, description });
    }
  }

  const xs = values.map((v) => v.x as number);
  let xAxis: Record<string, unknown>;
  let xScale: Record<string, unknown>;
  let xTitle: string;
  if (logSparsity) {
    let lo = Math.floor(Math.min(...xs) + 1e-9);
    let hi = Math.ceil(Math.max(...xs) - 1e-9);
    if (hi <= lo) hi = lo + 1;
    if (lo < 0) lo = 0;
    const ticks: number[] = [];
    for (let k = lo; k <= hi; k++) ticks.push(k);
    xScale = { type: 'linear', domain: [lo, hi], nice: false, zero: false };
    xAxis = { values: ticks, labelExpr: decadeLabelExpr(ticks), grid: true };
    xTitle = 'Sparsity (log scale of remaining density)';
  } else {
    xScale = { type: 'linear', domain: [0, 1], nice: false };
    xAxis = { format: '.0%', tickCount: 10 };
    xTitle = 'Sparsity';
  }

  const x = { field: 'x', type: 'quantitative' as const, title: xTitle, scale: xScale, axis: xAxis };
  const yTitle = opts.yTitle ?? 'Accuracy';
  const color = colorEncoding(criteria);
  const shape = { field: 'criterion', type: 'nominal' as const, title: 'Criterion', scale: { domain: criteria } };
  const layers: unknown[] = [
    {
      mark: { type: 'line', strokeWidth: 2 },
      encoding: { x, y: { field: 'mean', type: 'quantitative', title: yTitle, scale: { zero: false } }, color },
    },
    {
      mark: { type: 'point', filled: true, size: 50, opacity: 1 },
      encoding: {
        x,
        y: { field: 'mean', type: 'quantitative', title: yTitle },
        color,
        shape,
        description: { field: 'description', type: 'nominal' },
      },
    },
  ];
  if (bars.length > 0) {
    layers.push({
      data: { values: bars },
      mark: { type: 'errorbar', ticks: { size: 8 }, thickness: 1.5 },
      encoding: {
        x,
        y: { field: 'lo', type: 'quantitative', title: yTitle },
        y2: { field: 'hi' },
        color,
      },
    });
  }
  const spec = {
    ...(opts.title === undefined ? {} : { title: opts.title }),
    background: 'white',
    padding: 10,
    width: 420,
    height: 280,
    data: { values },
    layer: layers,
    config: chartConfig(),
  } as TopLevelSpec;
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

function decadeLabelExpr(ticks: number[]): string {
  // a nested conditional built here, so the labels are exact strings rather than float formatting in Vega
  let expr = 'format(datum.value, ".2f")';
  for (const k of [...ticks].reverse()) expr = `datum.value === ${k} ? ${JSON.stringify(decadeLabel(k))} : ${expr}`;
  return expr;
}

function colorEncoding(criteria: string[]) {
  return {
    field: 'criterion',
    type: 'nominal' as const,
    title: 'Criterion',
    scale: { domain: criteria, scheme: 'tableau10' },
    legend: { labelLimit: 400 },
  };
}

function chartConfig() {
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

function uniqueInOrder(names: string[]): string[] {
  return [...new Set(names)];
}

function formatNumber(v: number): string {
  return Number(v.toPrecision(4)).toString();
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
