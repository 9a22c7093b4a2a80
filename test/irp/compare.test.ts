import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareSurvival } from '../../src/irp/compare.ts';
import { writeSurvivalTable } from '../../src/irp/table.ts';
import { createModel, type Model } from '../../src/models/index.ts';
import { UsageError } from '../../src/util/errors.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-compare-'));

function table(name: string, model: Model, rounds: number, survived: (tensor: number, i: number) => number, densities: number[] = []): string {
  const file = path.join(tmp, `${name}.arrow`);
  const zeros = () => new Map(model.prunable.map((p) => [p.name, new Float32Array(p.size)]));
  const counts = new Map(model.prunable.map((p, t) => [p.name, Uint8Array.from({ length: p.size }, (_, i) => survived(t, i))]));
  writeSurvivalTable(file, model, { theta: zeros(), grad: zeros(), hg: zeros() }, counts, zeros(), rounds, { model: model.config.name, densities });
  return file;
}

describe('compare-survival', () => {
  const model = createModel('lenet300', { width: 0.05 }); // 784×15, 15×5, 5×10
  const sizes = model.prunable.map((p) => p.size);

  it('agreement of two runs with different round counts, against hand counts', async () => {
    // A (E = 2): weight i of each tensor survived i mod 3 rounds → alive at the end when i ≡ 2 (mod 3).
    const a = table('a', model, 2, (_, i) => i % 3);
    // B (E = 4): the same order scaled (i mod 3 → 2·(i mod 3)), except tensor 0's weights i ≡ 0 (mod 6) also survive.
    const b = table('b', model, 4, (t, i) => (t === 0 && i % 6 === 0 ? 4 : 2 * (i % 3)));
    const r = await compareSurvival(a, b);
    expect(r.rounds).toEqual([2, 4]);
    const aliveA = sizes.map((n) => Math.floor((n - 3) / 3) + 1); // i = 2, 5, 8, …
    const extra = Math.ceil(sizes[0] / 6); // i = 0, 6, 12, … in tensor 0
    expect(r.tensors[1].final_jaccard).toBe(1);
    expect(r.tensors[1].spearman).toBeCloseTo(1, 12);
    expect(r.tensors[0].final_jaccard).toBeCloseTo(aliveA[0] / (aliveA[0] + extra), 12);
    expect(r.tensors[0].final_density).toEqual([aliveA[0] / sizes[0], (aliveA[0] + extra) / sizes[0]]);
    expect(r.tensors[0].spearman).toBeLessThan(1);
    const total = sizes.reduce((s, n) => s + n, 0);
    const sumA = aliveA.reduce((s, n) => s + n, 0);
    expect(r.final_overlap).toBe(1); // every final survivor of A survives in B
    expect(r.final_jaccard).toBeCloseTo(sumA / (sumA + extra), 12);
    expect(r.chance_overlap).toBeCloseTo((sumA + extra) / total, 12);
    expect(r.max_layer_density_gap).toBeCloseTo(extra / sizes[0], 12);
  });

  it('a run whose schedule is the first rounds of another’s is compared over those rounds', async () => {
    const long = [0.8, 0.6, 0.4, 0.2];
    // The 4-round run: weight i survives i mod 5 rounds. The 2-round run agrees exactly once clipped to 2 rounds.
    const a = table('long', model, 4, (_, i) => i % 5, long);
    const b = table('short', model, 2, (_, i) => Math.min(i % 5, 2), [0.8, 0.6 * (1 + 1e-12)]);
    const r = await compareSurvival(a, b);
    expect(r.rounds).toEqual([4, 2]);
    expect(r.shared_rounds).toBe(2);
    expect(r.spearman).toBeCloseTo(1, 12);
    expect(r.final_jaccard).toBe(1);
    // Without the shared schedule each run is read at its own last round: the labels still rank alike,
    // but A's final survivors (i ≡ 4) are a fifth of B's.
    const c = table('short-other', model, 2, (_, i) => Math.min(i % 5, 2), [0.7, 0.5]);
    const q = await compareSurvival(a, c);
    expect(q.shared_rounds).toBeNull();
    expect(q.final_overlap).toBe(1);
    expect(q.final_jaccard).toBeLessThan(0.5);
  });

  it('reversed labels give ρ = −1 and no common survivor', async () => {
    const a = table('up', model, 3, (_, i) => (i < 10 ? 3 : i % 3));
    const b = table('down', model, 3, (_, i) => (i < 10 ? 0 : 3 - (i % 3)));
    const r = await compareSurvival(a, b);
    for (const t of r.tensors) expect(t.spearman).toBeCloseTo(-1, 12);
    expect(r.final_overlap).toBe(0);
  });

  it('tables of different networks are refused in one line', async () => {
    const a = table('small', model, 2, () => 1);
    const b = table('other', createModel('lenet300', { width: 0.1 }), 2, () => 1);
    await expect(compareSurvival(a, b)).rejects.toThrow(UsageError);
    await expect(compareSurvival(a, b)).rejects.toThrow(/different networks/);
  });
});
