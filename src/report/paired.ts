/**
 * Paired statistics of a transfer evaluation: per target, budget, sparsity and autos entry, the
 * per-seed difference d = accuracy(autos) − accuracy(baseline) at the same seed, with wins/ties/losses,
 * a two-sided exact sign test and a seeded percentile-bootstrap interval of the mean difference.
 *
 * Two baselines: "best per seed" — at each seed the highest accuracy among the handcrafted entries
 * (HANDCRAFTED, with any allocation) present at that seed — and "best by mean" — the one
 * handcrafted entry with the highest mean accuracy at that sparsity, paired per seed.
 */
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import { Rng } from '../util/rng.ts';
import { DENSE_SERIES } from '../spec/criterion-entry.ts';
import { budgetText, type ResultRow } from './results.ts';

/** The handcrafted criteria autos is compared against (random is not a contender). */
export const HANDCRAFTED = ['grasp', 'snip', 'synflow', 'iter-snip', 'force', 'prospr', 'ntk-sap'] as const;

export const BOOTSTRAP_RESAMPLES = 10_000;
export const BOOTSTRAP_SEED = 0;

const baseOf = (entry: string) => (entry.startsWith('structured:') ? '' : entry.split(/[@#+]/)[0]!);
export const isAutosEntry = (entry: string) => baseOf(entry) === 'autos';
/** Entries learned from IRP, compared with the handcrafted ones: the student (autos) and its teacher (lottery). */
export const isLearnedEntry = (entry: string) => isAutosEntry(entry) || baseOf(entry) === 'lottery';
export const isHandcraftedEntry = (entry: string) => (HANDCRAFTED as readonly string[]).includes(baseOf(entry));

/**
 * Two-sided exact sign test: with n = wins + losses (ties dropped) and k = min(wins, losses),
 * p = min(1, 2 · Σ_{i ≤ k} C(n, i) / 2ⁿ). No untied pairs: p = 1.
 */
export function signTestP(wins: number, losses: number): number {
  const n = wins + losses;
  if (n === 0) return 1;
  const k = Math.min(wins, losses);
  let term = 0.5 ** n; // C(n, 0) / 2ⁿ
  let tail = term;
  for (let i = 0; i < k; i++) {
    term = (term * (n - i)) / (i + 1);
    tail += term;
  }
  return Math.min(1, 2 * tail);
}

/**
 * Percentile bootstrap interval of the mean: `resamples` means of n values drawn with replacement
 * (Rng(seed), deterministic), sorted; the interval is the ⌊(1 − level)/2 · B⌋-th smallest and largest
 * of them (0-based; B = 10,000, level 0.95: the 251st smallest and the 251st largest).
 */
export function bootstrapMeanInterval(xs: number[], opts: { resamples?: number; level?: number; seed?: number } = {}): [number, number] {
  const b = opts.resamples ?? BOOTSTRAP_RESAMPLES;
  const level = opts.level ?? 0.95;
  const n = xs.length;
  if (!n) return [NaN, NaN];
  const rng = new Rng(opts.seed ?? BOOTSTRAP_SEED);
  const means = new Float64Array(b);
  for (let r = 0; r < b; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += xs[rng.int(n)]!;
    means[r] = s / n;
  }
  means.sort();
  const k = Math.floor(((1 - level) / 2) * b);
  return [means[k]!, means[b - 1 - k]!];
}

export interface PairedStats {
  n: number;
  /** Per-seed differences, in seed order. */
  diffs: number[];
  meanDiff: number;
  wins: number;
  ties: number;
  losses: number;
  signP: number;
  ci: [number, number];
}

/** With one seed there is a difference but no test: signP and ci are NaN (empty in paired.csv, — in results.md). */
export function pairedStats(diffs: number[]): PairedStats {
  const wins = diffs.filter((d) => d > 0).length;
  const ties = diffs.filter((d) => d === 0).length;
  const losses = diffs.filter((d) => d < 0).length;
  const tested = diffs.length >= 2;
  return {
    n: diffs.length,
    diffs,
    meanDiff: mean(diffs),
    wins,
    ties,
    losses,
    signP: tested ? signTestP(wins, losses) : NaN,
    ci: tested ? bootstrapMeanInterval(diffs) : [NaN, NaN],
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export interface PairedRow extends PairedStats {
  target: string;
  epochs: number | null;
  steps: number | null;
  sparsity: number;
  autos: string;
  /** 'best-per-seed' or 'best-mean' (then `criterion` names the handcrafted entry). */
  baseline: 'best-per-seed' | 'best-mean';
  criterion: string;
  seeds: number[];
  autosMean: number;
  baselineMean: number;
}

/** paired.csv columns, in order (documented in docs/formats.md). */
export const PAIRED_COLUMNS = [
  'target',
  'epochs',
  'steps',
  'sparsity',
  'autos',
  'baseline',
  'baseline_criterion',
  'n',
  'seeds',
  'autos_mean',
  'baseline_mean',
  'diff_mean',
  'wins',
  'ties',
  'losses',
  'sign_p',
  'ci_low',
  'ci_high',
] as const;

interface Group {
  target: string;
  epochs: number | null;
  steps: number | null;
  rows: ResultRow[];
}

function groups(rows: ResultRow[]): Group[] {
  const out = new Map<string, Group>();
  for (const r of rows) {
    const key = JSON.stringify([r.target, r.epochs, r.steps]);
    if (!out.has(key)) out.set(key, { target: r.target, epochs: r.epochs, steps: r.steps, rows: [] });
    out.get(key)!.rows.push(r);
  }
  return [...out.values()];
}

const unique = <T>(xs: T[]) => [...new Set(xs)];

/** Every paired comparison (≥ 1 paired seed), per target × budget, sparsity, autos entry, baseline. */
export function pairedComparisons(rows: ResultRow[]): PairedRow[] {
  const out: PairedRow[] = [];
  for (const g of groups(rows.filter((r) => r.accuracy !== null && r.criterion !== DENSE_SERIES))) {
    const autosEntries = unique(g.rows.map((r) => r.criterion)).filter(isLearnedEntry);
    const sparsities = unique(g.rows.map((r) => r.sparsity)).sort((a, b) => a - b);
    for (const s of sparsities) {
      const at = g.rows.filter((r) => r.sparsity === s);
      const accuracy = (entry: string) => new Map(at.filter((r) => r.criterion === entry).map((r) => [r.seed, r.accuracy!]));
      const handcrafted = unique(at.map((r) => r.criterion)).filter(isHandcraftedEntry);
      if (!handcrafted.length) continue;
      const hand = new Map(handcrafted.map((e) => [e, accuracy(e)]));
      // Best by mean: ties go to the entry listed first in the results.
      let bestMean = handcrafted[0]!;
      for (const e of handcrafted) if (mean([...hand.get(e)!.values()]) > mean([...hand.get(bestMean)!.values()])) bestMean = e;
      for (const a of autosEntries) {
        const mine = accuracy(a);
        const add = (baseline: PairedRow['baseline'], criterion: string, of: (seed: number) => number | undefined) => {
          const seeds = [...mine.keys()].filter((seed) => of(seed) !== undefined).sort((x, y) => x - y);
          if (seeds.length < 1) return;
          const base = seeds.map((seed) => of(seed)!);
          const auto = seeds.map((seed) => mine.get(seed)!);
          const st = pairedStats(seeds.map((_, i) => auto[i]! - base[i]!));
          out.push({
            target: g.target,
            epochs: g.epochs,
            steps: g.steps,
            sparsity: s,
            autos: a,
            baseline,
            criterion,
            seeds,
            autosMean: mean(auto),
            baselineMean: mean(base),
            ...st,
          });
        };
        add('best-per-seed', '', (seed) => {
          const xs = handcrafted.map((e) => hand.get(e)!.get(seed)).filter((x): x is number => x !== undefined);
          return xs.length ? Math.max(...xs) : undefined;
        });
        add('best-mean', bestMean, (seed) => hand.get(bestMean)!.get(seed));
      }
    }
  }
  return out;
}

export function pairedCsv(rows: PairedRow[]): string {
  const cells = (r: PairedRow) => [
    r.target,
    r.epochs ?? '',
    r.steps ?? '',
    r.sparsity,
    r.autos,
    r.baseline,
    r.criterion,
    r.n,
    r.seeds.join(';'),
    r.autosMean,
    r.baselineMean,
    r.meanDiff,
    r.wins,
    r.ties,
    r.losses,
    num(r.signP),
    num(r.ci[0]),
    num(r.ci[1]),
  ];
  return [PAIRED_COLUMNS.join(','), ...rows.map((r) => cells(r).join(','))].join('\n') + '\n';
}

const num = (x: number) => (Number.isNaN(x) ? '' : x);

/** Percentage points with an explicit sign (ASCII '-'). */
export const points = (x: number) => `${x > 0 ? '+' : ''}${(100 * x).toFixed(2)}`;

/** The results.md section: one table per target × budget, or one line saying why there is none. */
export function pairedMarkdown(rows: ResultRow[]): string {
  const head = '## Paired differences: autos − best handcrafted';
  const trained = rows.filter((r) => r.accuracy !== null && r.criterion !== DENSE_SERIES);
  const seeds = unique(trained.map((r) => r.seed)).sort((a, b) => a - b);
  const none = (why: string) => `${head}\n\n${why}\n`;
  if (!trained.length) return none('No trained jobs: paired differences compare test accuracies.');
  if (!trained.some((r) => isLearnedEntry(r.criterion)) || !trained.some((r) => isHandcraftedEntry(r.criterion))) {
    return none(`Needs an autos or lottery entry and at least one of ${HANDCRAFTED.join(', ')} among the criteria.`);
  }
  const paired = pairedComparisons(rows);
  if (!paired.length) return none('No autos entry shares a seed with a handcrafted criterion at any sparsity.');
  const untested =
    seeds.length < 2
      ? [`One seed (${seeds.join(', ')}): the differences are shown without a sign test or interval (they need ≥ 2 seeds; add seeds to get them).`, '']
      : [];
  const lines = [
    head,
    '',
    ...untested,
    `d = test accuracy of the autos entry − that of the baseline at the same seed, in percentage points. Baselines: **best per seed** — at each seed the highest accuracy among the ${HANDCRAFTED.join(', ')} entries present at that seed (so its mean is ≥ every single criterion's); **best mean** — the one handcrafted entry with the highest mean accuracy at that sparsity (named), paired per seed. W/T/L: seeds won / tied / lost by autos. p: two-sided exact sign test (binomial, ties dropped). 95% CI: percentile bootstrap of the mean d (${BOOTSTRAP_RESAMPLES.toLocaleString('en-US')} resamples of the seeds with replacement, seed ${BOOTSTRAP_SEED}). With few seeds the sign test cannot reach significance (3 seeds: p ≥ 0.25).`,
    '',
  ];
  const key = (r: { target: string; epochs: number | null; steps: number | null }) => JSON.stringify([r.target, r.epochs, r.steps]);
  for (const k of unique(paired.map(key))) {
    const mine = paired.filter((r) => key(r) === k);
    const g = mine[0]!;
    lines.push(`### ${g.target}, ${budgetText(g.epochs, g.steps)}`, '');
    lines.push('| autos | sparsity | baseline | seeds | autos (%) | baseline (%) | mean d (pts) | W/T/L | sign p | 95% CI of d (pts) |');
    lines.push('|---|---|---|---|---|---|---|---|---|---|');
    for (const r of mine) {
      const base = r.baseline === 'best-per-seed' ? 'best per seed' : `${r.criterion} (best mean)`;
      lines.push(
        `| ${r.autos} | ${(100 * r.sparsity).toFixed(1)}% | ${base} | ${r.seeds.join(', ')} | ${(100 * r.autosMean).toFixed(2)} | ${(100 * r.baselineMean).toFixed(2)} | ${points(r.meanDiff)} | ${r.wins}/${r.ties}/${r.losses} | ${Number.isNaN(r.signP) ? '—' : r.signP.toFixed(4)} | ${Number.isNaN(r.ci[0]) ? '—' : `[${points(r.ci[0])}, ${points(r.ci[1])}]`} |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** paired.csv in `out` (header only when there is no comparison); returns the results.md section. */
export function writePaired(out: string, rows: ResultRow[]): string {
  writeFileAtomic(path.join(out, 'paired.csv'), pairedCsv(pairedComparisons(rows)));
  return pairedMarkdown(rows);
}
