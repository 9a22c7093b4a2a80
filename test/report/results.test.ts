import { describe, expect, it } from 'vitest';
import { groupMarkdown, groupResults, type JobResult, RESULT_COLUMNS, type ResultRow, resultsCsv } from '../../src/report/results.ts';

const row = (criterion: string, sparsity: number, seed: number, accuracy: number | null, epochs: number | null = 5): JobResult => ({
  row: {
    target: 'lenet5/mnist',
    criterion,
    epochs,
    steps: null,
    sparsity,
    density: 1 - sparsity,
    param_density: 1 - sparsity,
    effective_density: 1 - sparsity,
    seed,
    accuracy,
    loss: 0.1,
    grad_norm_ratio: 0.5,
    min_layer_kept: 3,
    wall_seconds: 1,
  },
  layers: [{ name: 'fc1', density: 1 - sparsity }],
});

describe('results tables', () => {
  it('one seed: the heading says so, a dense row first, no ± and a † footnote on cells below chance + 5 points', () => {
    const results = [
      row('snip', 0.9, 0, 0.9712),
      row('random', 0.9, 0, 0.1125),
      row('snip', 0.98, 0, 0.93),
      row('random', 0.98, 0, 0.1499),
      row('dense', 0, 0, 0.989),
    ];
    const [g, ...rest] = groupResults(results);
    expect(rest).toEqual([]);
    const md = groupMarkdown(g!);
    const lines = md.split('\n');
    expect(lines[0]).toBe('## lenet5/mnist, trained 5 epochs, 1 seed (0)');
    expect(md).toContain('one run per cell (one seed: no spread to report)');
    expect(md).not.toContain('±');
    const table = lines.filter((l) => l.startsWith('| '));
    expect(table).toEqual([
      '| criterion | 90.0% sparse | 98.0% sparse |',
      '| dense (0% sparse) | 98.90 | 98.90 |',
      '| snip | 97.12 | 93.00 |',
      '| random | 11.25 † | 14.99 † |',
    ]);
    expect(md).toMatch(/†: below chance \+ 5 points \(chance 10\.00%, 10 classes\)/);
  });

  it('several seeds: mean ± sample std and the seed count in the heading; no footnote when everything learned', () => {
    const results = [row('snip', 0.9, 0, 0.96), row('snip', 0.9, 1, 0.98), row('dense', 0, 0, 0.99), row('dense', 0, 1, 0.97)];
    const md = groupMarkdown(groupResults(results)[0]!);
    expect(md.split('\n')[0]).toBe('## lenet5/mnist, trained 5 epochs, 2 seeds (0, 1)');
    expect(md).toContain('| dense (0% sparse) | 98.00 ± 1.41 |');
    expect(md).toContain('| snip | 97.00 ± 1.41 |');
    expect(md).not.toContain('†');
  });

  it('one group (and heading) per budget; untrained sweeps tabulate the gradient-norm ratio', () => {
    const groups = groupResults([row('snip', 0.9, 0, 0.97, 5), row('snip', 0.9, 0, 0.95, 1), row('snip', 0.9, 0, null, null)]);
    expect(groups.map((g) => groupMarkdown(g).split('\n')[0])).toEqual([
      '## lenet5/mnist, trained 5 epochs, 1 seed (0)',
      '## lenet5/mnist, trained 1 epoch, 1 seed (0)',
      '## lenet5/mnist, untrained, 1 seed (0)',
    ]);
    expect(groupMarkdown(groups[2]!)).toContain('| snip | 0.50 |');
  });

  it('results.csv has the documented columns, in order, empty cells for nulls', () => {
    const rows: ResultRow[] = [
      row('dense', 0, 0, 0.989).row,
      { ...row('snip', 0.9, 0, null, null).row, loss: null, min_layer_kept: null, effective_density: null },
    ];
    const csv = resultsCsv(rows).trim().split('\n');
    expect(csv[0]).toBe(RESULT_COLUMNS.join(','));
    expect(csv[0]).toBe(
      'target,criterion,epochs,steps,sparsity,density,param_density,effective_density,seed,accuracy,loss,grad_norm_ratio,min_layer_kept,wall_seconds',
    );
    expect(csv[1]).toBe('lenet5/mnist,dense,5,,0,1,1,1,0,0.989,0.1,0.5,3,1');
    expect(csv[2]).toBe('lenet5/mnist,snip,,,0.9,0.09999999999999998,0.09999999999999998,,0,,,0.5,,1');
  });
});
