import { describe, expect, it } from 'vitest';
import {
  ALL_FEATURES,
  featureMatrix,
  type LayerDescriptor,
  needsFlow,
  needsHg,
  networkContext,
  parseFeatureList,
  percentiles,
  unitMeans,
} from '../../src/scoring/autos/features.ts';
import { fitConfigFrom } from '../../src/cli/commands/fit-autos.ts';

const dense: LayerDescriptor = { name: 'fc', kind: 'dense', shape: [3, 2], fan_in: 3, fan_out: 2, kernel_size: 1, depth: 0 };

describe('AutoS rank and unit features', () => {
  it('percentiles are in [0, 1], monotone, and share the mean rank on ties', () => {
    expect(Array.from(percentiles([3, 1, 2]))).toEqual([1, 0, 0.5]);
    expect(Array.from(percentiles([5, 1, 5, 0, 7]))).toEqual([0.625, 0.25, 0.625, 0, 1]);
    expect(Array.from(percentiles([4]))).toEqual([0.5]);
  });

  it('unit means average over the input unit (axis −2) and the output unit (axis −1), dense and conv', () => {
    // dense [in 3, out 2], row-major: index = in·2 + out
    const v = [1, 2, 3, 4, 5, 6];
    expect(Array.from(unitMeans([3, 2], (i) => v[i], 6, 'in'))).toEqual([1.5, 1.5, 3.5, 3.5, 5.5, 5.5]);
    expect(Array.from(unitMeans([3, 2], (i) => v[i], 6, 'out'))).toEqual([3, 4, 3, 4, 3, 4]);
    // conv [kh 2, kw 1, cin 2, cout 1]: index = (kh·1 + kw)·2 + cin; input channel = index % 2
    const c = [1, 10, 3, 30];
    expect(Array.from(unitMeans([2, 1, 2, 1], (i) => c[i], 4, 'in'))).toEqual([2, 20, 2, 20]);
    expect(Array.from(unitMeans([2, 1, 2, 1], (i) => c[i], 4, 'out'))).toEqual([11, 11, 11, 11]);
  });

  it('a weight into an output unit the loss does not use scores 0 on out_theta_grad and out_grad; rank features need no scale', () => {
    const theta = Float32Array.from([1, -2, 3, -4, 5, -6]);
    const grad = Float32Array.from([0.5, 0, -0.5, 0, 1, 0]); // output unit 1 has zero gradient
    const feats = parseFeatureList('out_theta_grad,out_grad,in_theta_grad,rank_abs_theta,rank_theta_grad');
    expect(needsHg(feats)).toBe(false);
    const m = featureMatrix({ theta, grad }, dense, feats);
    const col = (j: number) => Array.from({ length: 6 }, (_, i) => m[i * feats.length + j]);
    for (const i of [1, 3, 5]) {
      expect(col(0)[i]).toBe(0);
      expect(col(1)[i]).toBe(0);
    }
    expect(col(0)[0]).toBeGreaterThan(0);
    expect(col(3)).toEqual(Array.from(percentiles(theta.map(Math.abs))));
    const scaled = featureMatrix({ theta: theta.map((x) => 100 * x), grad: grad.map((x) => 0.01 * x) }, dense, feats);
    Array.from(m).forEach((x, i) => expect(scaled[i]).toBeCloseTo(x, 5));
  });

  it('rank_theta_hg needs Hg, and every listed feature parses', () => {
    expect(needsHg(['rank_theta_hg'])).toBe(true);
    expect(parseFeatureList(ALL_FEATURES.join(','))).toHaveLength(ALL_FEATURES.length);
    expect(() => featureMatrix({ theta: new Float32Array(6), grad: new Float32Array(6) }, dense, ['rank_theta_hg'])).toThrow(/need Hg/);
  });

  it('rank_synflow is the percentile of the SynFlow score within the tensor', () => {
    const flow = Float32Array.from([0.5, 0, 2, 0.5, 1e-9, 7]);
    const x = featureMatrix({ theta: new Float32Array(6), grad: new Float32Array(6), flow }, dense, ['rank_synflow']);
    expect(Array.from(x)).toEqual([2.5 / 5, 0, 4 / 5, 2.5 / 5, 1 / 5, 1].map((v) => expect.closeTo(v, 6)));
    expect(needsFlow(['rank_abs_theta', 'rank_synflow'])).toBe(true);
    expect(() => featureMatrix({ theta: new Float32Array(6), grad: new Float32Array(6) }, dense, ['rank_synflow'])).toThrow(/needs the SynFlow scores/);
  });
});

describe('AutoS network-context features', () => {
  // Two tensors of one network. a: θ (1, −1, 2, 0) — the 0 is a pruned weight, left out of every mean;
  // b: θ (4, 4). Means per live weight: |θ| a 4/3, b 4, network 12/5; |θg| a 4/3, b 2, network 8/5;
  // |θHg| a 0, b 4, network 8/5.
  const a = { theta: Float32Array.from([1, -1, 2, 0]), grad: Float32Array.from([1, 1, 1, 1]), hg: Float32Array.from([0, 0, 0, 0]) };
  const b = { theta: Float32Array.from([4, 4]), grad: Float32Array.from([0.5, -0.5]), hg: Float32Array.from([1, 1]) };
  const la = { ...dense, name: 'a', shape: [4, 1] };
  const lb = { ...dense, name: 'b', shape: [2, 1] };
  const net = (x: typeof a, y: typeof b, feats: ReturnType<typeof parseFeatureList>) =>
    networkContext(
      [
        { name: 'a', cols: x },
        { name: 'b', cols: y },
      ],
      feats,
    );

  it('ctx_: log of the tensor mean over the network mean (live weights), log size share; zero floored at 1e-6', () => {
    const feats = parseFeatureList('ctx_abs_theta,ctx_theta_grad,ctx_theta_hg,ctx_size_share');
    expect(needsHg(feats)).toBe(true);
    const ctx = net(a, b, feats);
    const row = (m: Float32Array) => Array.from(m.subarray(0, feats.length));
    expect(row(featureMatrix(a, la, feats, ctx))).toEqual(
      [Math.log(4 / 3 / (12 / 5)), Math.log(4 / 3 / (8 / 5)), Math.log(1e-6), Math.log(4 / 6)].map((v) => expect.closeTo(v, 5)),
    );
    expect(row(featureMatrix(b, lb, feats, ctx))).toEqual(
      [Math.log(4 / (12 / 5)), Math.log(2 / (8 / 5)), Math.log(4 / (8 / 5)), Math.log(2 / 6)].map((v) => expect.closeTo(v, 5)),
    );
    // The same for every weight of a tensor.
    const m = featureMatrix(a, la, feats, ctx);
    for (let i = 1; i < 4; i++) expect(Array.from(m.subarray(i * feats.length, (i + 1) * feats.length))).toEqual(row(m));
    expect(() => featureMatrix(b, lb, feats)).toThrow(/network context/);
  });

  it('net_: each weight’s own score over the network mean, log; scaling the network changes nothing', () => {
    const feats = parseFeatureList('net_abs_theta,net_theta_grad');
    const ctx = net(a, b, feats);
    expect(Array.from(featureMatrix(a, la, feats, ctx))).toEqual(
      [1, 1, 2, 0].flatMap((t) => [t ? Math.log(t / (12 / 5)) : Math.log(1e-6), t ? Math.log(t / (8 / 5)) : Math.log(1e-6)]).map((v) => expect.closeTo(v, 5)),
    );
    const scale = (c: typeof a) => ({ theta: c.theta.map((v) => 3 * v), grad: c.grad.map((v) => 0.1 * v), hg: c.hg });
    const scaled = net(scale(a), scale(b), feats);
    expect(Array.from(featureMatrix(scale(b), lb, feats, scaled))).toEqual(Array.from(featureMatrix(b, lb, feats, ctx)).map((v) => expect.closeTo(v, 5)));
  });
});

describe('fit-autos --target', () => {
  const flags = {
    table: ['t.arrow'],
    hidden: '64,64',
    activation: 'relu',
    loss: 'mse',
    target: 'survival',
    lr: 0.01,
    batchSize: 1024,
    epochs: 10,
    seed: 0,
    maxRowsPerTensor: 1000,
  };
  it('accepts survival and rank, refuses anything else', () => {
    expect(fitConfigFrom(flags).target).toBe('survival');
    expect(fitConfigFrom({ ...flags, target: 'rank' }).target).toBe('rank');
    expect(() => fitConfigFrom({ ...flags, target: 'bogus' })).toThrow(/--target must be survival or rank/);
  });
});
