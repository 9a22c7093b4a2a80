import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as vega from 'vega';
import { afterAll, describe, expect, it } from 'vitest';

import {
  accuracyVsSparsityPlot,
  decadeLabel,
  layerDensityPlot,
  sparsityToDecades,
  writeSvg,
  type AccuracyPoint,
  type LayerDensitySeries,
} from '../../src/report/plots.ts';

const LAYERS = ['conv1.weight', 'layer1.0.conv1', 'layer1.0.conv2', 'layer2.0.shortcut', 'fc.weight'];

function densitySeries(): LayerDensitySeries[] {
  return [
    { criterion: 'SNIP', layers: LAYERS.map((name, i) => ({ name, density: 0.9 - 0.15 * i })) },
    { criterion: 'GraSP', layers: LAYERS.map((name, i) => ({ name, density: 0.3 + 0.1 * i })) },
    // names needing XML escaping must survive intact
    { criterion: 'SynFlow & <iter>', layers: LAYERS.map((name) => ({ name, density: 0.5 })) },
  ];
}

const SPARSITIES = [0.5, 0.9, 0.95, 0.99, 0.999];

function accuracyPoints(): AccuracyPoint[] {
  const pts: AccuracyPoint[] = [];
  for (const s of SPARSITIES) {
    const d = sparsityToDecades(s);
    pts.push({ criterion: 'SNIP', sparsity: s, mean: 92 - 5 * d, std: 1 });
    pts.push({ criterion: 'GraSP', sparsity: s, mean: 91 - 3 * d, std: 0.5 });
    pts.push({ criterion: 'Random', sparsity: s, mean: 90 - 8 * d }); // no std -> no error bar
  }
  return pts;
}

/** Minimal XML well-formedness check: balanced tags, quoted attributes, only escaped `&`/`<` in text. */
function assertWellFormedXml(xml: string): void {
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>/y;
  const entity = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;
  const stack: string[] = [];
  let roots = 0;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt === -1 ? xml.length : lt);
    expect(text.replace(entity, ''), `stray '&' in text near offset ${i}`).not.toContain('&');
    if (stack.length === 0) expect(text.trim(), 'text outside the root element').toBe('');
    if (lt === -1) break;
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    if (!m) throw new Error(`malformed tag at offset ${lt}: ${xml.slice(lt, lt + 80)}`);
    const [, closing, name, attrs, selfClosing] = m;
    expect(attrs!.replace(entity, ''), `stray '&' in attributes of <${name}>`).not.toContain('&');
    if (closing) {
      expect(stack.pop(), `unbalanced </${name}>`).toBe(name);
    } else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name!);
    } else if (stack.length === 0) {
      roots++;
    }
    i = tag.lastIndex;
  }
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
}

function unescapeXml(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** Texts of the <text> elements inside the mark group(s) with the given role, e.g. "legend-label". */
function textsOfRole(svg: string, role: string): string[] {
  const out: string[] = [];
  const group = new RegExp(`<g class="mark-text role-${role}"[^>]*>(.*?)</g>`, 'g');
  for (const g of svg.matchAll(group)) {
    for (const t of g[1]!.matchAll(/<text[^>]*>(.*?)<\/text>/g)) out.push(unescapeXml(t[1]!));
  }
  return out;
}

/** Children of the leaf mark groups `<g class="mark-<type> role-mark ...">`, one count per group. */
function markItemCounts(svg: string, type: string, element: 'path' | 'line'): number[] {
  const group = new RegExp(`<g class="mark-${type} role-mark[^"]*"[^>]*>(.*?)</g>`, 'g');
  return [...svg.matchAll(group)].map((g) => (g[1]!.match(new RegExp(`<${element}\\b`, 'g')) ?? []).length);
}

function svgSize(svg: string): { width: number; height: number } {
  const m = /^<svg [^>]*width="(\d+(?:\.\d+)?)" height="(\d+(?:\.\d+)?)"/.exec(svg);
  expect(m, 'svg root with width/height').not.toBeNull();
  return { width: Number(m![1]), height: Number(m![2]) };
}

function expectStandaloneSvg(svg: string): void {
  expect(svg.startsWith('<svg ')).toBe(true);
  expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
  expect(svg).toMatch(/viewBox="0 0 \d/);
  const { width, height } = svgSize(svg);
  expect(width).toBeGreaterThan(100);
  expect(height).toBeGreaterThan(100);
  // no scripts, no external references
  expect(svg).not.toMatch(/<script|href="http|<image/);
  assertWellFormedXml(svg);
}

describe('layerDensityPlot', () => {
  it('renders a standalone grouped bar chart with legend, axis titles and one bar per (layer, criterion)', async () => {
    const series = densitySeries();
    const svg = await layerDensityPlot(series, { title: 'Density per layer @ 90%' });
    expectStandaloneSvg(svg);

    expect(textsOfRole(svg, 'legend-label')).toEqual(series.map((s) => s.criterion));
    expect(textsOfRole(svg, 'axis-title')).toEqual(['Layer', 'Kept fraction (density)']);
    expect(textsOfRole(svg, 'title-text')).toEqual(['Density per layer @ 90%']);
    // x labels keep the given layer order (not alphabetical), and are rotated because the names are long
    const yTicks = ['0.0', '0.2', '0.4', '0.6', '0.8', '1.0'];
    expect(textsOfRole(svg, 'axis-label')).toEqual([...LAYERS, ...yTicks]);
    expect(svg).toMatch(/>conv1\.weight<\/text>/);
    expect(svg).toMatch(/rotate\(315\)[^>]*>conv1\.weight</);

    expect(markItemCounts(svg, 'rect', 'path')).toEqual([LAYERS.length * series.length]);
    expect(svg.match(/aria-roledescription="bar"/g)).toHaveLength(LAYERS.length * series.length);
    expect(svg).toContain('aria-label="SynFlow &amp; &lt;iter&gt;, layer fc.weight: density 0.5"');
  });

  it('keeps short names horizontal, unions layers across series in first-appearance order', async () => {
    const svg = await layerDensityPlot([
      {
        criterion: 'A',
        layers: [
          { name: 'c2', density: 0.2 },
          { name: 'c1', density: 0.4 },
        ],
      },
      {
        criterion: 'B',
        layers: [
          { name: 'c2', density: 1 },
          { name: 'fc', density: 0 },
        ],
      },
    ]);
    expectStandaloneSvg(svg);
    expect(textsOfRole(svg, 'axis-label').slice(0, 3)).toEqual(['c2', 'c1', 'fc']);
    expect(svg).not.toMatch(/rotate\(315\)/);
    expect(markItemCounts(svg, 'rect', 'path')).toEqual([4]);
    expect(textsOfRole(svg, 'title-text')).toEqual([]);
  });

  it('is deterministic (byte-identical across renders, also interleaved with other plots)', async () => {
    const a = await layerDensityPlot(densitySeries());
    await accuracyVsSparsityPlot(accuracyPoints());
    const b = await layerDensityPlot(densitySeries());
    expect(b).toBe(a);
  });

  it('rejects invalid input', async () => {
    await expect(layerDensityPlot([])).rejects.toThrow(/no series/);
    await expect(layerDensityPlot([{ criterion: 'A', layers: [{ name: 'x', density: 1.5 }] }])).rejects.toThrow(/\[0, 1\]/);
    await expect(layerDensityPlot([{ criterion: 'A', layers: [{ name: 'x', density: Number.NaN }] }])).rejects.toThrow();
    await expect(
      layerDensityPlot([
        {
          criterion: 'A',
          layers: [
            { name: 'x', density: 0.1 },
            { name: 'x', density: 0.2 },
          ],
        },
      ]),
    ).rejects.toThrow(/twice/);
    await expect(
      layerDensityPlot([
        { criterion: 'A', layers: [{ name: 'x', density: 0.1 }] },
        { criterion: 'A', layers: [{ name: 'y', density: 0.1 }] },
      ]),
    ).rejects.toThrow(/unique/);
  });
});

describe('accuracyVsSparsityPlot', () => {
  it('a labelled x tick at every evaluated sparsity (log-density spacing), percent on both axes, one line, marker and error bar per series', async () => {
    const points = accuracyPoints();
    const svg = await accuracyVsSparsityPlot(points, { title: 'VGG16 / CIFAR-10' });
    expectStandaloneSvg(svg);

    expect(textsOfRole(svg, 'legend-label')).toEqual(['SNIP', 'GraSP', 'Random']);
    expect(textsOfRole(svg, 'axis-title')).toEqual(['Sparsity (log scale of the remaining density)', 'Test accuracy (%)']);
    expect(textsOfRole(svg, 'title-text')).toEqual(['VGG16 / CIFAR-10']);
    const labels = textsOfRole(svg, 'axis-label');
    expect(labels.slice(0, 5)).toEqual(['50%', '90%', '95%', '99%', '99.9%']);
    for (const l of labels.slice(5)) expect(l).toMatch(/^\d+(\.\d+)?%$/);

    // x positions follow -log10(density): 90 → 99 → 99.9% are evenly spaced
    const xAxis = /<g class="mark-text role-axis-label"[^>]*>(.*?)<\/g>/.exec(svg)![1]!;
    const xs = [...xAxis.matchAll(/translate\(([\d.]+),/g)].map((m) => Number(m[1]));
    expect(xs).toHaveLength(5);
    expect(xs[4]! - xs[3]!).toBeCloseTo(xs[3]! - xs[1]!, 4);
    const unit = (xs[4]! - xs[3]!) / 1;
    expect(xs[2]! - xs[1]!).toBeCloseTo(unit * Math.log10(2), 4);

    expect(markItemCounts(svg, 'line', 'path')).toEqual([1, 1, 1]);
    expect(markItemCounts(svg, 'symbol', 'path')).toEqual([points.length]);
    const withStd = points.filter((p) => p.std !== undefined).length;
    expect(markItemCounts(svg, 'rule', 'line')).toEqual([withStd]);
    expect(svg).toContain('aria-label="GraSP, sparsity 99.9%: 82 ± 0.5"');
    expect(svg).toContain('aria-label="Random, sparsity 90%: 82"');
  });

  it('series differ in colour, marker and dash; the dense line is black, dashed and in the legend', async () => {
    const svg = await accuracyVsSparsityPlot(accuracyPoints(), { dense: 95 });
    expect(textsOfRole(svg, 'legend-label')).toEqual(['SNIP', 'GraSP', 'Random', 'dense']);
    const lines = [...svg.matchAll(/<g class="mark-line role-mark[^"]*"[^>]*><path ([^>]*)>/g)].map((m) => m[1]!);
    expect(lines).toHaveLength(4);
    const strokes = lines.map((l) => /stroke="([^"]+)"/.exec(l)![1]);
    const dashes = lines.map((l) => /stroke-dasharray="([^"]+)"/.exec(l)?.[1] ?? 'solid');
    expect(new Set(strokes).size).toBe(4);
    expect(new Set(dashes).size).toBe(4);
    expect(strokes[3]).toBe('#000000');
    const symbols = [...svg.matchAll(/<g class="mark-symbol role-legend-symbol[^"]*"[^>]*>(.*?)<\/g>/g)].flatMap((g) =>
      [...g[1]!.matchAll(/<path[^>]* d="([^"]+)"/g)].map((m) => m[1]),
    );
    expect(new Set(symbols).size).toBe(4); // one marker shape per series
  });

  it('a series below learnedAbove does not set the main y-range; a second panel shows the full range with it', async () => {
    const points = [0.9, 0.95, 0.98].flatMap((s, i) => [
      { criterion: 'snip', sparsity: s, mean: 97 - 2 * i },
      { criterion: 'random', sparsity: s, mean: 11.25 },
    ]);
    const svg = await accuracyVsSparsityPlot(points, { dense: 99, learnedAbove: 15 });
    // one label group per axis: [x, y] of the main panel, then [x, y] of the full-range panel
    const axes = [...svg.matchAll(/<g class="mark-text role-axis-label"[^>]*>(.*?)<\/g>/g)].map((g) =>
      [...g[1]!.matchAll(/<text[^>]*>(.*?)<\/text>/g)].map((t) => t[1]!),
    );
    expect(axes).toHaveLength(4);
    expect(axes[0]).toEqual(['90%', '95%', '98%']);
    const mainY = axes[1]!.map((l) => Number(l.slice(0, -1)));
    expect(Math.min(...mainY)).toBeGreaterThanOrEqual(90); // the main panel spans ~92..100, not 0..100
    expect(Math.max(...mainY)).toBeLessThanOrEqual(100);
    expect(axes[3]!.map((l) => Number(l.slice(0, -1)))).toEqual(expect.arrayContaining([0, 100])); // the full range
    expect(textsOfRole(svg, 'title-text').join(' ')).toMatch(/Below 15% \(chance \+ 5\): random/);
    expect(markItemCounts(svg, 'symbol', 'path')).toEqual([3, 6]); // snip above; snip and random below
  });

  it('is deterministic', async () => {
    const a = await accuracyVsSparsityPlot(accuracyPoints());
    const b = await accuracyVsSparsityPlot(accuracyPoints());
    expect(b).toBe(a);
  });

  it('rejects invalid input', async () => {
    await expect(accuracyVsSparsityPlot([])).rejects.toThrow(/no points/);
    await expect(accuracyVsSparsityPlot([{ criterion: 'A', sparsity: 1, mean: 0.1 }])).rejects.toThrow(/sparsity/);
    await expect(accuracyVsSparsityPlot([{ criterion: 'A', sparsity: -0.1, mean: 0.1 }])).rejects.toThrow(/sparsity/);
    await expect(accuracyVsSparsityPlot([{ criterion: 'A', sparsity: 0.5, mean: 0.1, std: -1 }])).rejects.toThrow(/std/);
    await expect(accuracyVsSparsityPlot([{ criterion: 'dense', sparsity: 0.5, mean: 0.1 }])).rejects.toThrow(/reserved/);
  });
});

describe('helpers', () => {
  it('maps sparsity to decades of remaining density and labels whole decades', () => {
    expect(sparsityToDecades(0)).toBeCloseTo(0, 12);
    expect(sparsityToDecades(0.9)).toBeCloseTo(1, 12);
    expect(sparsityToDecades(0.99)).toBeCloseTo(2, 12);
    expect(sparsityToDecades(0.999)).toBeCloseTo(3, 12);
    expect([0, 1, 2, 3, 4].map(decadeLabel)).toEqual(['0%', '90%', '99%', '99.9%', '99.99%']);
  });

  it('renders without the optional `canvas` package, using estimated text widths', async () => {
    await layerDensityPlot(densitySeries());
    const metrics = (vega as unknown as { textMetrics: { width: unknown; estimateWidth: unknown } }).textMetrics;
    expect(metrics.width).toBe(metrics.estimateWidth);
  });
});

describe('writeSvg', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plots-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the SVG atomically, creating parent directories and leaving no temp files', async () => {
    const svg = await layerDensityPlot(densitySeries());
    const path = join(dir, 'nested', 'density.svg');
    writeSvg(path, svg);
    writeSvg(path, svg); // overwrite
    expect(readFileSync(path, 'utf8')).toBe(`${svg}\n`);
    expect(readdirSync(join(dir, 'nested'))).toEqual(['density.svg']);
  });
});
