import { describe, expect, it } from 'vitest';
import { accuracyVsSparsityPlot, layerDensityPlot } from '../../src/report/plots.ts';

describe('SVG plots (vega-lite, rendered headless)', () => {
  it('accuracy vs sparsity: standalone SVG with every series and axis title, deterministic', async () => {
    const points = ['grasp', 'snip', 'autos@erk'].flatMap((criterion, i) =>
      [0.9, 0.95, 0.99].map((sparsity, j) => ({ criterion, sparsity, mean: 0.95 - 0.1 * j - 0.02 * i, std: 0.01 })),
    );
    const svg = await accuracyVsSparsityPlot(points, { title: 'lenet5 test' });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    for (const name of ['grasp', 'snip', 'autos@erk', 'lenet5 test']) expect(svg).toContain(name);
    expect(svg).toMatch(/Sparsity/);
    expect(await accuracyVsSparsityPlot(points, { title: 'lenet5 test' })).toBe(svg);
  });

  it('per-layer density: one series per criterion, layers in order', async () => {
    const svg = await layerDensityPlot([
      { criterion: 'grasp', layers: [{ name: 'conv1', density: 0.6 }, { name: 'fc1', density: 0.01 }] },
      { criterion: 'magnitude', layers: [{ name: 'conv1', density: 0.5 }, { name: 'fc1', density: 0 }] },
    ]);
    for (const name of ['grasp', 'magnitude', 'conv1', 'fc1']) expect(svg).toContain(name);
    expect(svg.indexOf('conv1')).toBeLessThan(svg.lastIndexOf('fc1'));
  });
});
