import { describe, expect, it } from 'vitest';
import { bootstrapMeanInterval, PAIRED_COLUMNS, pairedComparisons, pairedCsv, pairedMarkdown, pairedStats, signTestP } from '../../src/report/paired.ts';
import type { ResultRow } from '../../src/report/results.ts';

const row = (criterion: string, sparsity: number, seed: number, accuracy: number | null, target = 'lenet5/mnist'): ResultRow => ({
  target,
  criterion,
  epochs: 5,
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
});

/** C(n, k) as an exact integer. */
const choose = (n: number, k: number) => {
  let c = 1;
  for (let i = 0; i < k; i++) c = (c * (n - i)) / (i + 1);
  return c;
};

describe('sign test', () => {
  it('two-sided exact binomial tail, ties dropped: closed-form sums', () => {
    expect(signTestP(3, 0)).toBe(2 * (1 / 8)); // 0.25: the smallest p 3 seeds can give
    expect(signTestP(0, 3)).toBe(0.25);
    expect(signTestP(5, 0)).toBe(2 / 32);
    expect(signTestP(10, 0)).toBe(2 / 1024);
    expect(signTestP(8, 2)).toBe((2 * (1 + 10 + 45)) / 1024); // 0.109375
    expect(signTestP(2, 8)).toBe(0.109375);
    expect(signTestP(7, 3)).toBe((2 * (1 + 10 + 45 + 120)) / 1024); // 0.34375
    expect(signTestP(9, 6)).toBeCloseTo((2 * [0, 1, 2, 3, 4, 5, 6].reduce((a, i) => a + choose(15, i), 0)) / 2 ** 15, 15);
    // Capped at 1 (the two tails overlap), and no untied pairs at all is p = 1.
    expect(signTestP(2, 1)).toBe(1);
    expect(signTestP(1, 1)).toBe(1);
    expect(signTestP(0, 0)).toBe(1);
  });
});

describe('bootstrap interval of the mean', () => {
  it('all differences equal: the interval is that value exactly', () => {
    expect(bootstrapMeanInterval([0.25, 0.25, 0.25])).toEqual([0.25, 0.25]);
    expect(bootstrapMeanInterval([-0.5, -0.5, -0.5, -0.5, -0.5])).toEqual([-0.5, -0.5]);
    expect(bootstrapMeanInterval([0.7])).toEqual([0.7, 0.7]);
  });

  it('two values {0, 1}: each end holds a quarter of the resampled means, so the 95% interval is [0, 1]', () => {
    expect(bootstrapMeanInterval([0, 1])).toEqual([0, 1]);
    expect(bootstrapMeanInterval([1, 0, 0])).toEqual([0, 1]); // P(all ones) = 1/27 > 2.5%
  });

  it('deterministic: same input, same interval; another seed, another draw; inside [min, max]', () => {
    const xs = [0.012, -0.004, 0.031, 0.008, -0.015, 0.022];
    const a = bootstrapMeanInterval(xs);
    expect(bootstrapMeanInterval(xs)).toEqual(a);
    expect(bootstrapMeanInterval([...xs])).toEqual(a);
    expect(bootstrapMeanInterval(xs, { seed: 1 })).not.toEqual(a);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(a[0]).toBeLessThan(mean);
    expect(a[1]).toBeGreaterThan(mean);
    expect(a[0]).toBeGreaterThanOrEqual(Math.min(...xs));
    expect(a[1]).toBeLessThanOrEqual(Math.max(...xs));
  });

  it('pairedStats counts wins, ties and losses', () => {
    const s = pairedStats([0.01, 0, -0.02, 0.03]);
    expect(s).toMatchObject({ n: 4, wins: 2, ties: 1, losses: 1, signP: 1 });
    expect(s.meanDiff).toBeCloseTo(0.005, 15);
  });
});

describe('paired comparisons', () => {
  const acc = {
    'autos@snip': [0.9, 0.92, 0.91],
    snip: [0.89, 0.93, 0.9],
    synflow: [0.91, 0.9, 0.905],
    grasp: [0.88, 0.91, 0.92],
    random: [0.95, 0.95, 0.95], // not a handcrafted contender
  };
  const rows = [
    ...[0, 1, 2].map((seed) => row('dense', 0, seed, 0.99)),
    ...Object.entries(acc).flatMap(([c, xs]) => xs.map((x, seed) => row(c, 0.95, seed, x))),
  ];

  it('best per seed = max of grasp/snip/synflow at that seed; best mean = the single best handcrafted entry, paired per seed', () => {
    const p = pairedComparisons(rows);
    expect(p.map((r) => [r.autos, r.sparsity, r.baseline, r.criterion])).toEqual([
      ['autos@snip', 0.95, 'best-per-seed', ''],
      ['autos@snip', 0.95, 'best-mean', 'snip'], // snip 0.9067 > synflow 0.905 > grasp 0.9033
    ]);
    const [perSeed, bestMean] = p;
    // Per seed: max(0.89, 0.91, 0.88) = 0.91, max(0.93, 0.90, 0.91) = 0.93, max(0.90, 0.905, 0.92) = 0.92.
    expect(perSeed!.diffs.map((d) => Number(d.toFixed(12)))).toEqual([-0.01, -0.01, -0.01]);
    expect(perSeed).toMatchObject({ n: 3, seeds: [0, 1, 2], wins: 0, ties: 0, losses: 3, signP: 0.25 });
    expect(perSeed!.baselineMean).toBeCloseTo((0.91 + 0.93 + 0.92) / 3, 12);
    expect(perSeed!.ci[0]).toBeCloseTo(-0.01, 12);
    expect(perSeed!.ci[1]).toBeCloseTo(-0.01, 12);
    // Against snip: +0.01, −0.01, +0.01.
    expect(bestMean!.diffs.map((d) => Number(d.toFixed(12)))).toEqual([0.01, -0.01, 0.01]);
    expect(bestMean).toMatchObject({ wins: 2, ties: 0, losses: 1, signP: 1 });
    expect(bestMean!.meanDiff).toBeCloseTo(0.01 / 3, 12);
  });

  it("entries with rounds ('#k') are compared as what they are: autos#1 as autos, synflow#10 as a handcrafted baseline", () => {
    const withRounds = [
      ...[0, 1].map((seed) => row('autos@synflow#1', 0.95, seed, 0.9)),
      ...[0, 1].map((seed) => row('synflow#10', 0.95, seed, [0.92, 0.88][seed]!)),
    ];
    const p = pairedComparisons(withRounds);
    expect(p.map((r) => [r.autos, r.baseline, r.criterion])).toEqual([
      ['autos@synflow#1', 'best-per-seed', ''],
      ['autos@synflow#1', 'best-mean', 'synflow#10'],
    ]);
    expect(p[0]!.diffs.map((d) => Number(d.toFixed(12)))).toEqual([-0.02, 0.02]);
  });

  it('the 2021–2023 criteria (iter-snip, force, prospr, ntk-sap) are handcrafted baselines too; magnitude and random are not', () => {
    const rows2 = [
      ...[0, 1].map((seed) => row('autos', 0.95, seed, 0.9)),
      ...[0, 1].map((seed) => row('snip', 0.95, seed, 0.85)),
      ...[0, 1].map((seed) => row('force', 0.95, seed, [0.93, 0.8][seed]!)),
      ...[0, 1].map((seed) => row('ntk-sap@erk', 0.95, seed, [0.8, 0.91][seed]!)),
      ...[0, 1].map((seed) => row('iter-snip#5', 0.95, seed, 0.86)),
      ...[0, 1].map((seed) => row('prospr', 0.95, seed, 0.87)),
      ...[0, 1].map((seed) => row('random', 0.95, seed, 0.99)),
      ...[0, 1].map((seed) => row('magnitude', 0.95, seed, 0.99)),
    ];
    const [perSeed, bestMean] = pairedComparisons(rows2);
    // Best per seed: force at seed 0 (0.93), ntk-sap@erk at seed 1 (0.91); random/magnitude's 0.99 do not count.
    expect(perSeed!.diffs.map((d) => Number(d.toFixed(12)))).toEqual([-0.03, -0.01]);
    expect(bestMean!.criterion).toBe('prospr'); // means: force 0.865, ntk-sap@erk 0.855, prospr 0.87, iter-snip 0.86, snip 0.85
  });

  it('the markdown section and paired.csv carry the same numbers', () => {
    const md = pairedMarkdown(rows);
    expect(md).toMatch(/^## Paired differences: autos − best handcrafted\n/);
    expect(md).toContain('### lenet5/mnist, trained 5 epochs');
    expect(md).toContain('| autos@snip | 95.0% | best per seed | 0, 1, 2 | 91.00 | 92.00 | -1.00 | 0/0/3 | 0.2500 | [-1.00, -1.00] |');
    expect(md).toContain('| autos@snip | 95.0% | snip (best mean) | 0, 1, 2 | 91.00 | 90.67 | +0.33 |');
    const csv = pairedCsv(pairedComparisons(rows)).trim().split('\n');
    expect(csv[0]).toBe(PAIRED_COLUMNS.join(','));
    expect(csv).toHaveLength(3);
    expect(csv[1]!.split(',').slice(0, 9)).toEqual(['lenet5/mnist', '5', '', '0.95', 'autos@snip', 'best-per-seed', '', '3', '0;1;2']);
  });

  it('a lottery entry (the IRP teacher) is compared with the handcrafted criteria like an autos entry', () => {
    const asTicket = rows.map((r) => (r.criterion === 'autos@snip' ? { ...r, criterion: 'lottery' } : r));
    const p = pairedComparisons(asTicket);
    const q = pairedComparisons(rows);
    expect(p.map((r) => r.autos)).toEqual(['lottery', 'lottery']);
    expect(p.map((r) => r.diffs)).toEqual(q.map((r) => r.diffs));
    expect(pairedMarkdown(asTicket)).toContain('| lottery | 95.0% | best per seed | 0, 1, 2 | 91.00 | 92.00 | -1.00 | 0/0/3 |');
  });

  it('one seed: the difference without a test; needs an autos entry and a handcrafted criterion, says which is missing', () => {
    const one = rows.filter((r) => r.seed === 0);
    const p = pairedComparisons(one);
    expect(p).toHaveLength(2);
    const seed0 = (e: string) => one.find((r) => r.criterion === e && r.sparsity === 0.95)!.accuracy!;
    const best = Math.max(seed0('grasp'), seed0('snip'), seed0('synflow'));
    expect(p[0]!.meanDiff).toBeCloseTo(seed0('autos@snip') - best, 12);
    expect(p[0]!.signP).toBeNaN();
    const md = pairedMarkdown(one);
    expect(md).toContain('One seed (0): the differences are shown without a sign test or interval');
    expect(md).toMatch(/\| autos@snip \| 95\.0% \| best per seed \| 0 \| [\d.]+ \| [\d.]+ \| [-+][\d.]+ \| \d\/\d\/\d \| — \| — \|/);
    expect(pairedCsv(p).trim().split('\n')[1]!.split(',').slice(-3)).toEqual(['', '', '']);
    expect(pairedMarkdown(rows.filter((r) => !r.criterion.startsWith('autos')))).toContain(
      'Needs an autos or lottery entry and at least one of grasp, snip, synflow',
    );
    expect(pairedCsv([])).toBe(`${PAIRED_COLUMNS.join(',')}\n`);
  });

  it('several targets are compared separately', () => {
    const two = [...rows, ...rows.map((r) => ({ ...r, target: 'vgg11-w8/mnist', accuracy: r.accuracy === null ? null : r.accuracy - 0.1 }))];
    const p = pairedComparisons(two);
    expect(p.map((r) => r.target)).toEqual(['lenet5/mnist', 'lenet5/mnist', 'vgg11-w8/mnist', 'vgg11-w8/mnist']);
    expect(pairedMarkdown(two)).toContain('### vgg11-w8/mnist, trained 5 epochs');
  });
});
