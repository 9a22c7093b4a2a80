import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAsync } from '../helpers/cli.ts';

const bin = path.resolve(import.meta.dirname, '../../bin/pipeline.mjs');
const cli = (...args: string[]) =>
  runAsync(process.execPath, [bin, '--backend', 'wasm', ...args], { ...process.env, PIPELINE_QUIET: '1', PIPELINE_THREADS: '' });

const synthetic = 'synthetic:28x28x1:10:200';
/** Two sources (an MLP on mnist, a BN conv net on synthetic digits) → two conv targets, 2 seeds: tiny everywhere. */
const tiny = {
  sources: [
    { model: 'lenet300', width: 0.25, dataset: 'mnist', criterion: 'magnitude', rounds: 2, finalDensity: 0.1, epochsPerRound: 1, train: { batchSize: 512 } },
    {
      model: 'lenet5',
      width: 0.5,
      batchNorm: true,
      dataset: synthetic,
      criterion: 'magnitude',
      rounds: 2,
      finalDensity: 0.1,
      epochsPerRound: 1,
      samplesPerClass: 2,
      train: { batchSize: 100 },
    },
  ],
  autos: { features: ['rank_abs_theta', 'rank_theta_grad'], target: 'rank', hidden: [8], epochs: 1 },
  prune: {
    targets: [
      { model: 'vgg11', width: 4, batchNorm: true, dataset: synthetic, padTo: 32 },
      { model: 'vgg16', width: 4, dataset: synthetic, padTo: 32 },
    ],
    criteria: ['autos@learned', 'autos@snip', 'snip', 'grasp'],
    sparsities: [0.9],
    seeds: [0, 1],
    samplesPerClass: 2,
    train: { epochs: 2, batchSize: 25, optimizer: { lr: 0.05 } }, // 16 steps: enough for the accuracies to differ between criteria and seeds
  },
};

const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), 'utf8');
const csv = (text: string) => {
  const [head, ...lines] = text.trim().split('\n');
  const keys = head!.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [keys[i]!, v])));
};
const pts = (x: number) => `${x > 0 ? '+' : ''}${(100 * x).toFixed(2)}`;

describe('pipeline run: transfer from several sources to several targets', () => {
  it('each source its own IRP directory, one AutoS fit (and learned allocation) on both tables, both targets in the results, paired section = recomputed from results.csv', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-transfer-'));
    const file = path.join(root, 'tiny.json');
    fs.writeFileSync(file, JSON.stringify(tiny));
    const out = path.join(root, 'out');
    const r = await cli('run', file, '--out', out, '--jobs', '2', '--threads', '1');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/stage 1\/3: .* lenet300 .*\(source 1\/2\)/);
    expect(r.stdout).toMatch(/stage 2\/3: fitting AutoS on the 2 survival tables/);
    expect(r.stdout).toMatch(/stage 3\/3: pruning vgg11-w4\/synthetic:28x28x1:10:200, vgg16-w4\/synthetic:28x28x1:10:200: 20 jobs/);

    // Layout: irp/<source>_<hash>/ each finished with its table; autos/ fitted on both; prune/<target>_<entry>….
    const irp = fs.readdirSync(path.join(out, 'irp')).sort();
    expect(irp).toHaveLength(2);
    expect(irp[0]).toMatch(/^lenet300-w0\.25-mnist_[0-9a-f]{8}$/);
    expect(irp[1]).toMatch(/^lenet5-w0\.5-synthetic_28x28x1_10_200_[0-9a-f]{8}$/);
    for (const d of irp) for (const f of ['DONE', 'survival.arrow']) expect(fs.existsSync(path.join(out, 'irp', d, f)), `${d}/${f}`).toBe(true);
    const fit = JSON.parse(read(path.join(out, 'autos'), 'config.json'));
    // Recorded relative to the run (relocatable): $OUT stands for --out.
    expect(fit.tables).toEqual(irp.map((d) => `$OUT/irp/${d}/survival.arrow`));
    expect(fs.existsSync(path.join(out, 'autos', 'allocation.json'))).toBe(true); // what autos@learned reads
    const jobs = fs.readdirSync(path.join(out, 'prune')).sort();
    expect(jobs).toHaveLength(20);
    for (const j of jobs)
      expect(j).toMatch(/^vgg(11|16)-w4-synthetic_28x28x1_10_200_((autos-learned|autos-snip|snip|grasp)_s0\.9|dense)_seed[01]_[0-9a-f]{8}$/);
    for (const f of [
      'results.md',
      'results.csv',
      'results.arrow',
      'paired.csv',
      'accuracy_vgg11-w4_synthetic_28x28x1_10_200.svg',
      'accuracy_vgg16-w4_synthetic_28x28x1_10_200.svg',
    ]) {
      expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    }

    // Both targets in the results, every job once.
    const rows = csv(read(out, 'results.csv'));
    expect(rows).toHaveLength(20);
    const targets = [...new Set(rows.map((x) => x.target))];
    expect(targets).toEqual(['vgg11-w4/synthetic:28x28x1:10:200', 'vgg16-w4/synthetic:28x28x1:10:200']);
    const md = read(out, 'results.md');
    for (const t of targets) expect(md).toContain(`## ${t}, trained 2 epochs, 2 seeds (0, 1)`);

    // The paired section, recomputed here from the per-job accuracies.
    const paired = csv(read(out, 'paired.csv'));
    expect(paired).toHaveLength(8); // 2 targets × 1 sparsity × 2 autos entries × (best per seed, best mean)
    for (const t of targets) {
      for (const autos of ['autos@learned', 'autos@snip']) {
        const acc = (c: string, seed: number) => Number(rows.find((x) => x.target === t && x.criterion === c && Number(x.seed) === seed)!.accuracy);
        const mean = (c: string) => (acc(c, 0) + acc(c, 1)) / 2;
        const best = mean('grasp') > mean('snip') ? 'grasp' : 'snip';
        const cases: Array<[string, string, number[]]> = [
          ['best-per-seed', '', [0, 1].map((s) => acc(autos, s) - Math.max(acc('snip', s), acc('grasp', s)))],
          ['best-mean', best, [0, 1].map((s) => acc(autos, s) - acc(best, s))],
        ];
        for (const [baseline, criterion, d] of cases) {
          const p = paired.find((x) => x.target === t && x.autos === autos && x.baseline === baseline)!;
          expect(p.baseline_criterion).toBe(criterion);
          expect(p).toMatchObject({ sparsity: '0.9', n: '2', seeds: '0;1' });
          const m = (d[0]! + d[1]!) / 2;
          expect(Number(p.diff_mean)).toBeCloseTo(m, 12);
          const [w, ti, l] = [d.filter((x) => x > 0).length, d.filter((x) => x === 0).length, d.filter((x) => x < 0).length];
          expect([p.wins, p.ties, p.losses].map(Number)).toEqual([w, ti, l]);
          // Sign test with 2 seeds: p = 0.5 when both untied pairs go one way, else 1.
          const sign = w + l === 2 && (w === 2 || l === 2) ? 0.5 : 1;
          expect(Number(p.sign_p)).toBe(sign);
          // Bootstrap of two values: a quarter of the resampled means at each one, so the 95% interval is [min, max].
          expect([Number(p.ci_low), Number(p.ci_high)]).toEqual([Math.min(...d), Math.max(...d)]);
          const label = baseline === 'best-per-seed' ? 'best per seed' : `${criterion} (best mean)`;
          const line = md
            .slice(md.indexOf(`### ${t},`))
            .split('\n')
            .find((l) => l.startsWith(`| ${autos} | 90.0% | ${label} | 0, 1 | `))!;
          expect(line).toContain(`| ${(100 * mean(autos)).toFixed(2)} | `);
          expect(line).toContain(` | ${pts(m)} | ${w}/${ti}/${l} | ${sign.toFixed(4)} | [${pts(Math.min(...d))}, ${pts(Math.max(...d))}] |`);
        }
      }
    }
    expect(md).toContain('## Paired differences: autos − best handcrafted');
  }, 240_000);

  it('a target that is also a source architecture is refused in one line (exit 2) before anything is written', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-transfer-'));
    const file = path.join(root, 'seen.json');
    fs.writeFileSync(file, JSON.stringify({ ...tiny, prune: { ...tiny.prune, targets: [...tiny.prune.targets, { model: 'lenet5', dataset: synthetic }] } }));
    const out = path.join(root, 'out');
    const r = await cli('run', file, '--out', out);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      `pipeline: ${file}: prune.targets[2] 'lenet5' is also a source architecture, so evaluating on it is not transfer; drop it or set "allowSeenTargets": true`,
    ]);
    expect(fs.existsSync(out)).toBe(false);
  });
});
