import path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { readJsonFile } from '../util/json-text.ts';
import { CURVES_FILE, type SurvivalCurve } from '../autos/survival-curves.ts';
import { chartConfig, PALETTE, renderVegaLite, writeSvg } from './plots.ts';

function values(curves: SurvivalCurve[]) {
  return curves.flatMap((c) =>
    c.points.map((p) => ({
      source: c.source,
      kind: c.kind,
      score: c.score,
      q: p.q,
      survival: p.survival,
      description: `${c.source} ${c.kind} ${c.score}: percentile ${p.q.toFixed(3)} → survival ${p.survival.toFixed(3)} (${p.n} weights)`,
    })),
  );
}

const axes = {
  x: { field: 'q', type: 'quantitative' as const, title: 'Percentile in its tensor', scale: { domain: [0, 1] }, axis: { format: '.1f', tickCount: 5 } },
  y: { field: 'survival', type: 'quantitative' as const, title: 'Survival (rounds / E)', scale: { domain: [0, 1] }, axis: { format: '.1f', tickCount: 5 } },
};

function colour(sources: string[]) {
  return { field: 'source', type: 'nominal' as const, title: 'Source', scale: { domain: sources, range: sources.map((_, i) => PALETTE[i % PALETTE.length]!) } };
}

/** Survival against |θ₀|, |θ₀·g| and θ₀·Hg per source (colour), one panel per score and layer kind. */
export async function survivalVsScoresPlot(curves: SurvivalCurve[]): Promise<string> {
  const sources = [...new Set(curves.map((c) => c.source))];
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    background: 'white',
    title: 'IRP survival against scores at θ₀ (per-tensor bins; rows: conv, dense layers)',
    data: { values: values(curves) },
    facet: {
      column: { field: 'score', type: 'nominal', title: null, header: { labelFontSize: 12 }, sort: [...new Set(curves.map((c) => c.score))] },
      row: { field: 'kind', type: 'nominal', title: null, header: { labelAngle: 0, labelAlign: 'left', labelFontSize: 12 } },
    },
    spec: {
      width: 200,
      height: 160,
      mark: { type: 'line', point: true },
      encoding: { ...axes, color: colour(sources), description: { field: 'description', type: 'nominal' } },
    },
    config: chartConfig(),
  };
  return renderVegaLite(spec);
}

/** Held-out calibration: true survival against AutoS's predicted percentile (solid) and |θ₀|'s (dashed). */
export async function predictedVsTruePlot(curves: SurvivalCurve[]): Promise<string> {
  const sources = [...new Set(curves.map((c) => c.source))];
  const scores = [...new Set(curves.map((c) => c.score))];
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    background: 'white',
    title: 'Held-out tensors: true survival against the predicted percentile',
    width: 320,
    height: 220,
    data: { values: values(curves) },
    mark: { type: 'line', point: true },
    encoding: {
      ...axes,
      x: { ...axes.x, title: 'Percentile of the prediction within its tensor' },
      color: colour(sources),
      strokeDash: {
        field: 'score',
        type: 'nominal',
        title: 'Scorer',
        sort: scores,
        scale: { domain: scores, range: scores.map((_, i) => (i === 0 ? [1, 0] : [6, 3])) },
      },
      shape: {
        field: 'score',
        type: 'nominal',
        title: 'Scorer',
        sort: scores,
        scale: { domain: scores, range: scores.map((_, i) => (i === 0 ? 'circle' : 'square')) },
      },
      description: { field: 'description', type: 'nominal' },
    },
    config: chartConfig(),
  };
  return renderVegaLite(spec);
}

/** survival-vs-scores.svg and predicted-vs-true.svg from a fitted AutoS directory's curves. */
export async function writeSurvivalPlots(dir: string): Promise<string[]> {
  const curves = readJsonFile(path.join(dir, CURVES_FILE), "refit with 'pipeline fit-autos'") as SurvivalCurve[];
  const written: string[] = [];
  const source = curves.filter((c) => c.kind !== 'all');
  const held = curves.filter((c) => c.kind === 'all');
  if (source.length) {
    writeSvg(path.join(dir, 'survival-vs-scores.svg'), await survivalVsScoresPlot(source));
    written.push('survival-vs-scores.svg');
  }
  if (held.length) {
    writeSvg(path.join(dir, 'predicted-vs-true.svg'), await predictedVsTruePlot(held));
    written.push('predicted-vs-true.svg');
  }
  return written;
}
