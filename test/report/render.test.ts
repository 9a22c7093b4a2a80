// The plots as a reader sees them: every SVG is rendered to PNG by an independent SVG renderer
// (@resvg/resvg-js, pinned), which must draw every series in its own colour; the legend names them all.
import { Resvg } from '@resvg/resvg-js';
import { describe, expect, it } from 'vitest';
import { accuracyVsSparsityPlot, layerDensityPlot } from '../../src/report/plots.ts';

function render(svg: string): { png: Buffer; width: number; height: number; colours: Map<string, number> } {
  const image = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render();
  const colours = new Map<string, number>();
  const px = image.pixels;
  for (let i = 0; i < px.length; i += 4) {
    const hex = `#${[px[i]!, px[i + 1]!, px[i + 2]!].map((v) => v.toString(16).padStart(2, '0')).join('')}`.toUpperCase();
    colours.set(hex, (colours.get(hex) ?? 0) + 1);
  }
  return { png: image.asPng(), width: image.width, height: image.height, colours };
}

const legendLabels = (svg: string) =>
  [...svg.matchAll(/<g class="mark-text role-legend-label"[^>]*>(.*?)<\/g>/g)].flatMap((g) =>
    [...g[1]!.matchAll(/<text[^>]*>(.*?)<\/text>/g)].map((t) => t[1]),
  );

/** Fill/stroke colours the SVG gives each legend entry's symbol, in legend order. */
const legendColours = (svg: string) =>
  [...svg.matchAll(/<g class="mark-symbol role-legend-symbol"[^>]*>(.*?)<\/g>/g)].flatMap((g) =>
    [...g[1]!.matchAll(/<path [^>]*?(?:fill|stroke)="(#[0-9a-fA-F]{6})"/g)].map((m) => m[1]!.toUpperCase()),
  );

describe('plots rendered to PNG (resvg)', () => {
  it('accuracy vs sparsity: a non-empty PNG drawing every series; the legend names each and the dense line', async () => {
    const criteria = ['autos@snip', 'grasp', 'snip', 'synflow', 'random'];
    const points = criteria.flatMap((criterion, i) =>
      [0.9, 0.95, 0.98].map((sparsity, j) => ({ criterion, sparsity, mean: criterion === 'random' ? 11.3 : 97 - 2 * j - i })),
    );
    const svg = await accuracyVsSparsityPlot(points, { title: 'lenet5 test', dense: 99, learnedAbove: 15 });
    const { png, width, height, colours } = render(svg);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(width).toBeGreaterThan(400);
    expect(height).toBeGreaterThan(300);
    const white = colours.get('#FFFFFF') ?? 0;
    expect(white / (width * height)).toBeLessThan(0.97); // something is drawn
    expect(legendLabels(svg)).toEqual([...criteria, 'dense']);
    const used = [...new Set(legendColours(svg))];
    expect(used).toHaveLength(criteria.length + 1);
    for (const c of used) expect(colours.get(c) ?? 0, `pixels of ${c}`).toBeGreaterThan(20);
  });

  it('layer density: a non-empty PNG with one bar colour per criterion named in the legend', async () => {
    const svg = await layerDensityPlot([
      {
        criterion: 'grasp',
        layers: [
          { name: 'conv1', density: 0.6 },
          { name: 'fc1', density: 0.01 },
        ],
      },
      {
        criterion: 'snip',
        layers: [
          { name: 'conv1', density: 0.5 },
          { name: 'fc1', density: 0.2 },
        ],
      },
    ]);
    const { width, height, colours } = render(svg);
    expect(width * height).toBeGreaterThan(0);
    expect(legendLabels(svg)).toEqual(['grasp', 'snip']);
    const used = [...new Set(legendColours(svg))];
    expect(used).toHaveLength(2);
    for (const c of used) expect(colours.get(c) ?? 0, `pixels of ${c}`).toBeGreaterThan(20);
  });
});
