import * as tf from '@tensorflow/tfjs';
import type { BackendInfo } from '../engine/backend.ts';
import { grad, hvp } from '../engine/hvp.ts';
import { crossEntropy } from '../engine/ops.ts';
import { createModel, initParams, type ModelName, type ParamMap } from '../models/index.ts';
import { sgd, trainStep } from '../train/train-step.ts';
import { countStep, type StepCounters } from './step-counters.ts';
import { type KernelProfile, medianMs, profileKernels, settle } from '../engine/timing.ts';

export interface BenchOptions {
  model: ModelName;
  width?: number;
  batch: number;
  repeat: number;
  seed?: number;
  /** Also profile one train step and one GraSP Hg per kernel. */
  profile?: boolean;
}

/** What every bench line starts with: engine, backend and workload. */
export interface BenchHeader {
  engine: string;
  backend: string;
  model: string;
  width: number;
  batch: number;
  threads: number | null;
  /** wasm: threads of tfjs's XNNPACK pool. */
  xnnpack_threads?: number;
  /** webgpu: the GPU (vendor, device, driver description, software or not). */
  adapter?: BackendInfo['adapter'];
  note?: string;
}

export function benchHeader(backend: BackendInfo, model: string, width: number, batch: number): BenchHeader {
  return {
    engine: `tfjs-${backend.tfjsVersion}-${backend.name}`,
    backend: backend.name,
    model,
    width,
    batch,
    threads: backend.threads,
    ...(backend.xnnpackThreads !== undefined ? { xnnpack_threads: backend.xnnpackThreads } : {}),
    ...(backend.adapter ? { adapter: backend.adapter } : {}),
    ...(backend.note ? { note: backend.note } : {}),
  };
}

/** Same keys as scripts/gpu/torch_reference.py, plus the backend. */
export interface BenchResult extends BenchHeader {
  prunable: number;
  forward_ms: number;
  train_step_ms: number;
  grasp_hg_ms: number;
  profile?: KernelProfile[];
  /** webgpu with --profile: dispatches, submissions, buffer creations and host time of one steady-state run each. */
  gpu_work?: StepCounters[];
}

/** Forward (train-mode BN, no tape), one SGD train step and GraSP's Hg (T = 200, one batch). */
export async function runBench(opts: BenchOptions, backend: BackendInfo): Promise<BenchResult> {
  const model = createModel(opts.model, { width: opts.width });
  const params: ParamMap = initParams(model, opts.seed ?? 0);
  const [h, w, c] = model.config.inputShape;
  const x = tf.randomNormal([opts.batch, h, w, c], 0, 1, 'float32', 1) as tf.Tensor4D;
  const y = tf.tensor1d(
    Array.from({ length: opts.batch }, (_, i) => i % model.config.numClasses),
    'int32',
  );
  const weights = model.prunable.map((p) => p.name);

  const forward = () => settle(tf.tidy(() => model.forward(params, x, true).logits));
  const { optimizer, lr } = sgd(0.01, 0.9);
  const step = () => trainStep(model, params, optimizer, x, y, lr);
  const loss = (ws: tf.Tensor[]) => {
    const p = { ...params };
    weights.forEach((n, i) => (p[n] = ws[i]));
    return crossEntropy(model.forward(p, x, true).logits, y, 200);
  };
  const graspHg = async () => {
    const theta = weights.map((n) => params[n]);
    const g = grad(loss, theta);
    const hg = hvp(loss, theta, g);
    await settle(hg[hg.length - 1]); // kernels complete in order: the last one done means all are
    tf.dispose([...g, ...hg]);
  };

  const result: BenchResult = {
    ...benchHeader(backend, opts.model, model.config.width, opts.batch),
    prunable: model.prunable.reduce((n, p) => n + p.size, 0),
    forward_ms: await medianMs(forward, opts.repeat),
    train_step_ms: await medianMs(step, opts.repeat),
    grasp_hg_ms: await medianMs(graspHg, Math.max(1, Math.floor(opts.repeat / 2))),
  };
  if (opts.profile) {
    if (backend.name === 'webgpu') result.gpu_work = [await countStep('train_step', step), await countStep('grasp_hg', graspHg)];
    result.profile = [await profileKernels('train_step', step), await profileKernels('grasp_hg', graspHg)];
  }
  optimizer.dispose();
  tf.dispose([x, y, ...Object.values(params)]);
  return result;
}
