import * as tf from '@tensorflow/tfjs';
import { grad } from '../../engine/hvp.ts';
import { maskedTensor, type Masks } from '../../masks/masks.ts';
import { initParams } from '../../models/init.ts';
import type { Model, ParamMap } from '../../models/types.ts';
import { Rng } from '../../util/rng.ts';
import { resolveOptions } from './options.ts';
import type { Criterion } from './types.ts';

/** One random draw of NTK-SAP: weights, a Gaussian input batch and a perturbation of the prunable weights. */
export interface NtkDraw {
  params: ParamMap;
  x: tf.Tensor4D;
  /** ε·N(0, 1) per prunable tensor. */
  delta: tf.Tensor[];
}

/**
 * ∂J/∂m for one draw, J = Σ_i ‖f(x_i; θ ⊙ m) − f(x_i; (θ + δ) ⊙ m)‖² (a finite-difference estimate of
 * the NTK's trace). Both networks run with BN in eval mode on the statistics one train-mode pass of the
 * unperturbed net takes from this input (mean and unbiased variance: running stats at momentum 1).
 * ∂J/∂m = θ ⊙ ∂J/∂w₁ + (θ + δ) ⊙ ∂J/∂w₂ at w₁ = θ ⊙ m, w₂ = (θ + δ) ⊙ m.
 */
export function ntkMaskGradient(model: Model, draw: NtkDraw, masks?: Masks): tf.Tensor[] {
  return tf.tidy(() => {
    const theta = model.prunable.map((p) => draw.params[p.name]);
    const shifted = theta.map((t, i) => tf.add(t, draw.delta[i]));
    const w1 = theta.map((t, i) => maskedTensor(t, masks?.get(model.prunable[i]!.name)));
    const w2 = shifted.map((t, i) => maskedTensor(t, masks?.get(model.prunable[i]!.name)));
    const withWeights = (ws: tf.Tensor[], base: ParamMap) => {
      const p: ParamMap = { ...base };
      model.prunable.forEach((q, i) => (p[q.name] = ws[i]));
      return p;
    };
    const stats = model.forward(withWeights(w1, draw.params), draw.x, true).bnStats;
    const evalParams: ParamMap = { ...draw.params };
    for (const [layer, s] of stats) {
      evalParams[`${layer}.running_mean`] = s.mean;
      evalParams[`${layer}.running_var`] = s.variance;
    }
    const n = theta.length;
    const [g1, g2] = ((gs) => [gs.slice(0, n), gs.slice(n)])(
      grad(
        (ws) => {
          const f1 = model.forward(withWeights(ws.slice(0, n), evalParams), draw.x, false).logits;
          const f2 = model.forward(withWeights(ws.slice(n), evalParams), draw.x, false).logits;
          return tf.sum(tf.square(tf.sub(f1, f2))) as tf.Scalar;
        },
        [...w1, ...w2],
      ),
    );
    return theta.map((t, i) => tf.add(tf.mul(t, g1[i]), tf.mul(shifted[i], g2[i])));
  });
}

/** The draws of one round: fresh weights (the model's own initialization), N(0, 1) inputs, ε·N(0, 1) shifts. */
export function ntkDraws(model: Model, seed: number, round: number, opts: { draws: number; epsilon: number; inputsPerClass: number }): NtkDraw[] {
  const rng = new Rng(seed).fork(7919 + round);
  const [h, w, c] = model.config.inputShape;
  const batch = opts.inputsPerClass * model.config.numClasses;
  const normals = (r: Rng, n: number, scale: number) => Float32Array.from({ length: n }, () => scale * r.normal());
  return Array.from({ length: opts.draws }, () => {
    const params = initParams(model, rng.nextU32());
    const x = tf.tensor4d(normals(rng.fork(1), batch * h * w * c, 1), [batch, h, w, c]);
    const shift = rng.fork(2);
    const delta = model.prunable.map((p) => tf.tensor(normals(shift, p.size, opts.epsilon), p.shape));
    return { params, x, delta };
  });
}

/**
 * NTK-SAP (Wang et al. 2023): data-free; each round sums ∂J/∂m (ntkMaskGradient) over several fresh
 * random draws of the weights, with Gaussian noise as input, and keeps the largest |Σ ∂J/∂m|. Defaults
 * are the authors' CIFAR-10 script: 20 rounds (exponential schedule), 5 draws, ε = 0.01, 10 inputs per
 * class in one batch.
 */
export const ntkSap: Criterion = {
  name: 'ntk-sap',
  description: '|Σ_draws ∂/∂m ‖f(θ⊙m) − f((θ+δ)⊙m)‖²| on noise inputs, fresh weights per draw, 20 rounds (Wang et al. 2023)',
  needsData: false,
  defaultBnMode: 'eval',
  defaultIterations: 20,
  options: {
    draws: { default: 5, description: 'random weight draws summed per round', integer: true, min: 1 },
    epsilon: { default: 0.01, description: 'standard deviation of the weight perturbation δ' },
    inputsPerClass: { default: 10, description: 'Gaussian-noise inputs per class in the batch', integer: true, min: 1 },
  },
  score: async ({ model, masks, seed, round, options: given }) => {
    const options = resolveOptions(ntkSap, given);
    let sum: tf.Tensor[] | undefined;
    for (const draw of ntkDraws(model, seed, round, { draws: options.draws, epsilon: options.epsilon, inputsPerClass: options.inputsPerClass })) {
      const g = ntkMaskGradient(model, draw, masks);
      tf.dispose([...Object.values(draw.params), draw.x, ...draw.delta]);
      const next = sum ? sum.map((s, i) => tf.add(s, g[i])) : g;
      if (sum) tf.dispose([...sum, ...g]);
      sum = next;
    }
    const host = (await Promise.all(sum!.map((t) => t.data()))) as Float32Array[];
    tf.dispose(sum!);
    return { scores: new Map(model.prunable.map((p, i) => [p.name, host[i].map(Math.abs)])) };
  },
};
