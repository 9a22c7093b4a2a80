import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';
import { createModel, initParams } from '../../src/models/index.ts';
import { maskTensors } from '../../src/masks/masks.ts';
import { OptimizerSchema, ScheduleSchema } from '../../src/train/config.ts';
import { Optimizer } from '../../src/train/optimizer.ts';
import { learningRate } from '../../src/train/schedule.ts';
import { lossAndGrads } from '../../src/train/step.ts';
import { Rng } from '../../src/util/rng.ts';

describe('optimizers', () => {
  it('SGD with Nesterov momentum and weight decay follows the PyTorch recurrence', async () => {
    await initBackend('cpu');
    const opt = new Optimizer(OptimizerSchema.parse({ type: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }));
    const params = { w: tf.tensor1d([1, -2]) };
    let theta = [1, -2];
    let buf: number[] | undefined;
    for (let t = 0; t < 5; t++) {
      const g = theta.map((v) => 2 * v + 1); // gradient of v² + v
      opt.step(params, { w: tf.tensor1d(g) }, 0.1);
      const d = g.map((gi, i) => gi + 0.01 * theta[i]);
      buf = buf ? buf.map((b, i) => 0.9 * b + d[i]) : d.slice();
      theta = theta.map((v, i) => v - 0.1 * (d[i] + 0.9 * buf![i]));
    }
    const got = Array.from(params.w.dataSync());
    got.forEach((v, i) => expect(v).toBeCloseTo(theta[i], 5));
  });

  it('Adam matches the bias-corrected update computed by hand', async () => {
    await initBackend('cpu');
    const opt = new Optimizer(OptimizerSchema.parse({ type: 'adam', lr: 0.01 }));
    const params = { w: tf.tensor1d([0.5]) };
    let theta = 0.5;
    let m = 0;
    let v = 0;
    for (let t = 1; t <= 4; t++) {
      const g = 3 * theta - 1;
      opt.step(params, { w: tf.tensor1d([g]) }, 0.01);
      m = 0.9 * m + 0.1 * g;
      v = 0.999 * v + 0.001 * g * g;
      theta -= (0.01 * (m / (1 - 0.9 ** t))) / (Math.sqrt(v / (1 - 0.999 ** t)) + 1e-8);
    }
    expect(params.w.dataSync()[0]).toBeCloseTo(theta, 6);
  });

  it('a mask stays exact through 100 SGD + momentum + weight-decay steps (weights and momentum)', async () => {
    await initBackend('wasm');
    const model = createModel('lenet300', { width: 0.1, inputShape: [8, 8, 1] });
    const params = initParams(model, 0);
    const rng = new Rng(1);
    const masks = new Map(model.prunable.map((p) => [p.name, Uint8Array.from({ length: p.size }, () => (rng.next() < 0.3 ? 1 : 0))]));
    const maskT = maskTensors(masks, model);
    for (const [n, m] of Object.entries(maskT)) params[n] = tf.mul(params[n], m);
    const opt = new Optimizer(OptimizerSchema.parse({ lr: 0.05, momentum: 0.9, weightDecay: 5e-4 }));
    const x = tf.randomNormal([32, 8, 8, 1], 0, 1, 'float32', 2) as tf.Tensor4D;
    const y = tf.tensor1d(
      Array.from({ length: 32 }, (_, i) => i % 10),
      'int32',
    );
    const before = Object.fromEntries(model.prunable.map((p) => [p.name, params[p.name].dataSync().slice()]));
    for (let s = 0; s < 100; s++) {
      const out = lossAndGrads(model, params, x, y);
      opt.step(params, out.grads, 0.05, maskT);
      tf.dispose([out.loss, out.correct, ...Object.values(out.grads), ...Object.values(out.buffers)]);
    }
    for (const p of model.prunable) {
      const w = params[p.name].dataSync();
      const mom = opt.getState().slots.momentum[p.name].dataSync();
      const bits = masks.get(p.name)!;
      let changed = 0;
      for (let i = 0; i < p.size; i++) {
        if (!bits[i]) {
          expect(Math.abs(w[i])).toBe(0); // ±0: exactly zero
          expect(Math.abs(mom[i])).toBe(0);
        } else if (w[i] !== before[p.name][i]) changed++;
      }
      expect(changed).toBeGreaterThan(0.9 * bits.reduce((a, b) => a + b, 0));
    }
  });
});

describe('learning-rate schedules', () => {
  const cfg = (schedule: object) => ({ optimizer: OptimizerSchema.parse({ lr: 0.1 }), schedule: ScheduleSchema.parse(schedule) });
  it('multistep multiplies by gamma at each milestone epoch', () => {
    const c = cfg({ type: 'multistep', milestones: [2, 4], gamma: 0.2 });
    expect(learningRate(c, 0, 60, 10)).toBeCloseTo(0.1);
    expect(learningRate(c, 19, 60, 10)).toBeCloseTo(0.1);
    expect(learningRate(c, 20, 60, 10)).toBeCloseTo(0.02);
    expect(learningRate(c, 45, 60, 10)).toBeCloseTo(0.004);
  });
  it('multistep milestones below 1 are fractions of the run (GraSP: 1/2 and 3/4)', () => {
    const c = cfg({ type: 'multistep', milestones: [0.5, 0.75], gamma: 0.1 });
    expect(learningRate(c, 79, 160, 1)).toBeCloseTo(0.1);
    expect(learningRate(c, 80, 160, 1)).toBeCloseTo(0.01);
    expect(learningRate(c, 120, 160, 1)).toBeCloseTo(0.001);
  });
  it('cosine goes from lr to 0 through lr/2 at the midpoint', () => {
    const c = cfg({ type: 'cosine' });
    expect(learningRate(c, 0, 100, 10)).toBeCloseTo(0.1);
    expect(learningRate(c, 50, 100, 10)).toBeCloseTo(0.05);
    expect(learningRate(c, 100, 100, 10)).toBeCloseTo(0);
  });
  it('one-cycle warms up from lr/25 to lr and anneals to lr/1e4', () => {
    const c = cfg({ type: 'onecycle', warmup: 0.3 });
    expect(learningRate(c, 0, 100, 10)).toBeCloseTo(0.004);
    expect(learningRate(c, 30, 100, 10)).toBeCloseTo(0.1);
    expect(learningRate(c, 100, 100, 10)).toBeCloseTo(1e-5);
  });
});
