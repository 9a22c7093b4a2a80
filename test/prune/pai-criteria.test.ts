import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';
import * as ops from '../../src/engine/ops.ts';
import { createModel, initParams } from '../../src/models/index.ts';
import { getCriterion, resolveOptions } from '../../src/scoring/criteria/index.ts';
import type { Criterion } from '../../src/scoring/criteria/types.ts';
import { ntkMaskGradient } from '../../src/scoring/criteria/ntk-sap.ts';
import { prosprMetaGradient } from '../../src/scoring/criteria/prospr.ts';
import { computeFeatures, type ScoringBatches } from '../../src/scoring/features.ts';
import { prune } from '../../src/scoring/prune.ts';
import { planSweep } from '../../src/sweep/config.ts';
import { relErr } from '../engine/helpers.ts';
import { batches as sample, C, D, N, softmaxRegression, W0, X, Y } from '../helpers/softmax-regression.ts';

// Softmax regression (test/helpers): every quantity below has a float64 closed form on the host.

type Mat = number[][];
const probs = (W: Mat) =>
  X.map((x) => {
    const z = Array.from({ length: C }, (_, c) => x.reduce((s, xd, d) => s + xd * W[d][c], 0));
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const t = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / t);
  });
const loss = (W: Mat) => probs(W).reduce((s, p, n) => s - Math.log(p[Y[n]]), 0) / N;
/** ∇L = Xᵀ(P − Y)/N. */
const gradL = (W: Mat): Mat => {
  const P = probs(W);
  return W.map((_, d) => Array.from({ length: C }, (_, c) => X.reduce((s, x, n) => s + x[d] * (P[n][c] - (Y[n] === c ? 1 : 0)), 0) / N));
};
/** H·V for mean CE of softmax regression: (1/N) Σ_n x_d (P_c u_c − P_c ⟨P, u⟩), u = x·V. */
const hessVec = (W: Mat, V: Mat): Mat => {
  const P = probs(W);
  return W.map((_, d) =>
    Array.from(
      { length: C },
      (_, c) =>
        X.reduce((s, x, n) => {
          const u = Array.from({ length: C }, (_, k) => x.reduce((a, xd, dd) => a + xd * V[dd][k], 0));
          const pu = P[n].reduce((a, p, k) => a + p * u[k], 0);
          return s + x[d] * (P[n][c] * u[c] - P[n][c] * pu);
        }, 0) / N,
    ),
  );
};
const axpy = (A: Mat, B: Mat, s: number): Mat => A.map((r, d) => r.map((v, c) => v + s * B[d][c]));
/** L after M SGD steps from W0 ⊙ c. */
const lossAfterSteps = (c: Mat, steps: number, lr: number) => {
  let W = W0.map((r, d) => r.map((v, k) => v * c[d][k]));
  for (let k = 0; k < steps; k++) W = axpy(W, gradL(W), -lr);
  return loss(W);
};
/** ∂L(W_M)/∂c at c = 1 by reverse mode through the steps (float64). */
const metaGradient = (steps: number, lr: number): number[] => {
  const path = [W0];
  for (let k = 0; k < steps; k++) path.push(axpy(path[k], gradL(path[k]), -lr));
  let a = gradL(path[steps]);
  for (let k = steps - 1; k >= 0; k--) a = axpy(a, hessVec(path[k], a), -lr);
  return W0.flat().map((w, i) => w * a.flat()[i]);
};

describe('ProsPr: the meta-gradient through the inner SGD steps', () => {
  it('the float64 host reverse mode agrees with central finite differences of L(W_M(c))', () => {
    const ones = W0.map((r) => r.map(() => 1));
    const want = metaGradient(3, 0.5);
    const h = 1e-6;
    const fd = W0.flat().map((_, i) => {
      const bump = (s: number) => ones.map((r, d) => r.map((v, c) => (d * C + c === i ? v + s : v)));
      return (lossAfterSteps(bump(h), 3, 0.5) - lossAfterSteps(bump(-h), 3, 0.5)) / (2 * h);
    });
    expect(relErr(fd, want)).toBeLessThan(1e-7);
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`equals the closed form for 0, 1 and 3 steps, for any chunking (${backend})`, async () => {
      await initBackend(backend);
      const model = softmaxRegression();
      const params = { fc: tf.tensor2d(W0) };
      for (const steps of [0, 1, 3]) {
        for (const chunk of [N, 3]) {
          const meta = await prosprMetaGradient(model, params, sample(chunk), 'train', { steps, lr: 0.5 });
          expect(relErr(Array.from(meta.get('fc')!), metaGradient(steps, 0.5))).toBeLessThan(2e-5);
        }
      }
      // With no inner step the meta-gradient is θ ⊙ ∂L/∂θ: ProsPr's scores are SNIP's.
      const snip = await getCriterion('snip').score({ model, params, data: sample(N), bnMode: 'train', seed: 0, round: 0, temperature: 1 });
      const prospr0 = await getCriterion('prospr').score({
        model,
        params,
        data: sample(N),
        bnMode: 'train',
        seed: 0,
        round: 0,
        temperature: 1,
        options: { steps: 0 },
      });
      expect(relErr(Float32Array.from(prospr0.scores.get('fc')!), Float32Array.from(snip.scores.get('fc')!))).toBeLessThan(1e-6);
      // The default (3 steps, lr 0.1) is what the criterion scores.
      const prospr = await getCriterion('prospr').score({ model, params, data: sample(N), bnMode: 'train', seed: 0, round: 0, temperature: 1 });
      expect(relErr(Float32Array.from(prospr.scores.get('fc')!), metaGradient(3, 0.1).map(Math.abs))).toBeLessThan(2e-5);
    });
  }

  it('equals differentiating the unrolled inner steps directly (a second implementation) on a conv+BN net, BN affine steps included', async () => {
    await initBackend('wasm');
    const model = createModel('resnet20', { width: 2, inputShape: [8, 8, 3], numClasses: 4 });
    const params = initParams(model, 1);
    const x = () =>
      tf.tensor4d(
        Float32Array.from({ length: 8 * 8 * 8 * 3 }, (_, i) => Math.sin(i * 0.37)),
        [8, 8, 8, 3],
      );
    const y = () => tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32');
    const data: ScoringBatches = {
      n: 8,
      chunks: function* () {
        yield { x: x(), y: y() };
      },
    };
    const lr = 0.1;
    const meta = await prosprMetaGradient(model, params, data, 'train', { steps: 2, lr });
    // F(c) = L(θ_2), θ'_0 = θ ⊙ c, each step θ' − α ∇L(θ') written out and differentiated by tf.grads.
    const buffers = new Set(model.buffers);
    const prunable = model.prunable.map((p) => p.name);
    const unrolled = (trainOthers: boolean) => {
      const others = model.specs.map((s) => s.name).filter((n) => !buffers.has(n) && !prunable.includes(n));
      const names = [...prunable, ...(trainOthers ? others : [])];
      const lossAt = (ps: tf.Tensor[]) => {
        const p = { ...params };
        names.forEach((n, i) => (p[n] = ps[i]));
        return ops.crossEntropy(model.forward(p, x(), true).logits, y());
      };
      const F = (...cs: tf.Tensor[]) => {
        let ps = names.map((n, i) => (i < prunable.length ? tf.mul(params[n], cs[i]) : params[n]));
        for (let k = 0; k < 2; k++) {
          const g = tf.grads((...qs: tf.Tensor[]) => lossAt(qs))(ps);
          ps = ps.map((t, i) => tf.sub(t, tf.mul(g[i], lr)));
        }
        return lossAt(ps);
      };
      return tf.grads(F)(model.prunable.map((p) => tf.ones(p.shape)));
    };
    const direct = unrolled(true);
    const all = (m: (i: number) => Float32Array | tf.Tensor) =>
      Float32Array.from(prunable.flatMap((_, i) => Array.from(m(i) instanceof tf.Tensor ? (m(i) as tf.Tensor).dataSync() : (m(i) as Float32Array))));
    expect(
      relErr(
        all((i) => meta.get(prunable[i])!),
        all((i) => direct[i]),
      ),
    ).toBeLessThan(1e-4);
    // Freezing γ, β and the biases in the inner steps gives another answer: the check sees them.
    const frozen = unrolled(false);
    expect(
      relErr(
        all((i) => frozen[i]),
        all((i) => direct[i]),
      ),
    ).toBeGreaterThan(1e-3);
  });
});

describe('NTK-SAP: ∂/∂m ‖f(θ⊙m) − f((θ+δ)⊙m)‖²', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`equals 2 δ ⊙ Xᵀ X (δ ⊙ m) on a linear model, with and without a mask (${backend})`, async () => {
      await initBackend(backend);
      const model = softmaxRegression();
      const delta = Array.from({ length: D }, (_, d) => Array.from({ length: C }, (_, c) => 0.01 * Math.sin(3 * d + c)));
      const mask = Array.from({ length: D }, (_, d) => Array.from({ length: C }, (_, c) => ((d + c) % 3 === 0 ? 0 : 1)));
      for (const bits of [undefined, mask]) {
        const m = bits ?? mask.map((r) => r.map(() => 1));
        const xtx = Array.from({ length: D }, (_, i) => Array.from({ length: D }, (_, j) => X.reduce((s, x) => s + x[i] * x[j], 0)));
        const want = delta.flatMap((r, d) => r.map((dv, c) => 2 * dv * xtx[d].reduce((s, v, j) => s + v * delta[j][c] * m[j][c], 0)));
        const draw = { params: { fc: tf.tensor2d(W0) }, x: tf.tensor4d(X.flat(), [N, 1, D, 1]), delta: [tf.tensor2d(delta)] };
        const masks = bits ? new Map([['fc', Uint8Array.from(bits.flat())]]) : undefined;
        const [got] = ntkMaskGradient(model, draw, masks);
        expect(relErr(got, want)).toBeLessThan(1e-4);
      }
    });
  }

  it('is data-free and weight-free: the scores depend on the seed and the mask, not on θ₀', async () => {
    await initBackend('wasm');
    const model = createModel('lenet5', { width: 1, inputShape: [12, 12, 1], numClasses: 3 });
    const ntk = getCriterion('ntk-sap');
    const opts = { draws: 2, inputsPerClass: 2 };
    const at = (seed: number, theta: number) =>
      ntk.score({ model, params: initParams(model, theta), bnMode: 'eval', seed, round: 0, temperature: 1, options: opts });
    const a = await at(0, 0);
    const b = await at(0, 5);
    const c = await at(1, 0);
    for (const p of model.prunable) expect(Array.from(b.scores.get(p.name)!)).toEqual(Array.from(a.scores.get(p.name)!));
    expect(relErr(Float32Array.from(c.scores.get('conv1')!), Float32Array.from(a.scores.get('conv1')!))).toBeGreaterThan(0.1);
  });
});

describe('FORCE and Iter-SNIP', () => {
  const lenet = async () => {
    await initBackend('wasm');
    const model = createModel('lenet5', { width: 1, inputShape: [12, 12, 1], numClasses: 3 });
    const params = initParams(model, 2);
    const data: ScoringBatches = {
      n: 6,
      chunks: function* () {
        yield {
          x: tf.tensor4d(
            Float32Array.from({ length: 6 * 144 }, (_, i) => Math.cos(i * 0.11)),
            [6, 12, 12, 1],
          ),
          y: tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32'),
        };
      },
    };
    return { model, params, data };
  };

  it('iter-snip#k gives exactly the masks of snip#k, and defaults to 60 rounds', async () => {
    const { model, params, data } = await lenet();
    const run = (name: string) =>
      prune({ criterion: getCriterion(name), model, params, data, density: 0.05, scope: 'global', iterations: 6, bnMode: 'train', seed: 0, temperature: 1 });
    const [a, b] = [await run('iter-snip'), await run('snip')];
    for (const p of model.prunable) expect(a.masks.get(p.name)).toEqual(b.masks.get(p.name));
    expect(getCriterion('iter-snip').defaultIterations).toBe(60);
  });

  it('force scores |θ₀ ⊙ ∂L/∂θ̄| at the masked net, pruned weights included', async () => {
    const { model, params, data } = await lenet();
    const bits = new Map(model.prunable.map((p, k) => [p.name, Uint8Array.from({ length: p.size }, (_, i) => ((i + k) % 4 === 0 ? 0 : 1))]));
    const f = await computeFeatures(model, params, data, { bnMode: 'train', temperature: 1, withHg: false, masks: bits });
    const got = await getCriterion('force').score({ model, params, data, bnMode: 'train', masks: bits, seed: 0, round: 1, temperature: 1 });
    for (const p of model.prunable) {
      const theta0 = params[p.name].dataSync();
      const want = Float32Array.from(theta0, (v, i) => Math.abs(v * f.grad.get(p.name)![i]));
      expect(Array.from(got.scores.get(p.name)!)).toEqual(Array.from(want));
      const pruned = [...bits.get(p.name)!.keys()].filter((i) => bits.get(p.name)![i] === 0);
      expect(pruned.some((i) => got.scores.get(p.name)![i] > 0)).toBe(true); // a pruned weight can outscore kept ones
    }
  });

  it('a regrowing criterion may bring pruned weights back; others never do', async () => {
    const { model, params } = await lenet();
    // Round 0 prefers low flat indices, round 1 high ones.
    const flip = (regrows: boolean): Criterion => ({
      name: 'flip',
      description: '',
      needsData: false,
      defaultBnMode: 'eval',
      defaultIterations: 2,
      regrows,
      score: async ({ round }) => ({
        scores: new Map(model.prunable.map((p) => [p.name, Float32Array.from({ length: p.size }, (_, i) => (round === 0 ? -i : i))])),
      }),
    });
    const run = (regrows: boolean) => prune({ criterion: flip(regrows), model, params, density: 0.1, scope: 'layer', bnMode: 'eval', seed: 0, temperature: 1 });
    const fc1 = model.prunable.find((p) => p.name === 'fc1')!;
    const kept = async (regrows: boolean) => {
      const bits = (await run(regrows)).masks.get('fc1')!;
      return [...bits.keys()].filter((i) => bits[i] === 1);
    };
    const grown = await kept(true);
    const stayed = await kept(false);
    const half = Math.round(fc1.size * 0.1 ** 0.5);
    expect(grown.every((i) => i >= fc1.size - Math.round(fc1.size * 0.1))).toBe(true); // the top of round 1's order
    expect(stayed.every((i) => i < half)).toBe(true); // only round 0's survivors
  });
});

describe('criterion hyperparameters', () => {
  it('fill in defaults, take overrides, and refuse unknown names and bad values', () => {
    const prospr = getCriterion('prospr');
    expect(resolveOptions(prospr)).toEqual({ steps: 3, lr: 0.1 });
    expect(resolveOptions(prospr, { steps: 0 })).toEqual({ steps: 0, lr: 0.1 });
    expect(resolveOptions(getCriterion('ntk-sap'))).toEqual({ draws: 5, epsilon: 0.01, inputsPerClass: 10 });
    expect(() => resolveOptions(prospr, { stepz: 1 })).toThrow(/no option 'stepz': its options are steps, lr/);
    expect(() => resolveOptions(prospr, { steps: 1.5 })).toThrow(/whole number/);
    expect(() => resolveOptions(prospr, { lr: 0 })).toThrow(/> 0/);
    expect(() => resolveOptions(getCriterion('snip'), { steps: 1 })).toThrow(/has no options/);
  });

  it("reach only their criterion's jobs in a sweep, and leave the other jobs' configs (and names) as they were", () => {
    const base = { targets: [{ model: 'lenet5', dataset: 'mnist' }], criteria: ['snip', 'prospr'], densities: [0.1] };
    const plain = planSweep(base, 's.json').jobs;
    const tuned = planSweep({ ...base, criterionOptions: { prospr: { steps: 5 } } }, 's.json').jobs;
    const byEntry = (jobs: typeof plain, c: string) => jobs.find((j) => j.config.criterion === c && j.config.density === 0.1)!;
    expect(byEntry(tuned, 'snip').name).toBe(byEntry(plain, 'snip').name);
    expect(byEntry(tuned, 'prospr').config.criterionOptions).toEqual({ steps: 5 });
    expect(byEntry(plain, 'prospr').config.criterionOptions).toBeUndefined();
    expect(byEntry(tuned, 'prospr').name).not.toBe(byEntry(plain, 'prospr').name);
    expect(() => planSweep({ ...base, criterionOptions: { grasp: { steps: 5 } } }, 's.json')).toThrow(
      /criterionOptions.grasp: no entry uses criterion 'grasp'/,
    );
    expect(() => planSweep({ ...base, criterionOptions: { prospr: { draws: 5 } } }, 's.json')).toThrow(/no option 'draws'/);
  });
});
