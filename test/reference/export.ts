/**
 * Exports θ₀, the scoring sample and our masks/keep-scores for lenet300 on mnist, so that
 * test/reference/compare_torch.py can recompute snip, grasp and synflow in PyTorch and compare.
 *
 *   npx tsx test/reference/export.ts <outDir> [--density 0.1] [--seed 0] [--samples-per-class 10] [--backend wasm]
 *
 * Files (safetensors, layouts in test/reference/README.md):
 *   theta0.safetensors            every model tensor by name, tfjs layout (dense [in, out]), F32
 *   sample.safetensors            x: the normalized scoring sample [N, 28, 28, 1] F32 (NHWC), y: labels I32
 *   mask-<criterion>.safetensors  U8 per prunable tensor (1 = kept), tfjs layout
 *   scores-<criterion>.safetensors F32 keep-scores (higher = keep) of the last round, tfjs layout
 *   scores-synflow1.safetensors   F32 SynFlow keep-scores of one round on the dense net (a score check
 *                                 independent of the 100-round mask path)
 *   export.json                   the settings used (density, k, bn modes, temperature, rounds, ...)
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.ts';
import { saveSafetensors, type SafeTensor } from '../../src/io/safetensors.ts';
import { exportArgs, f32, runExport } from './export-common.ts';
import { initParams } from '../../src/models/index.ts';
import { getCriterion } from '../../src/scoring/criteria/index.ts';
import { prune } from '../../src/scoring/prune.ts';
import { preparePrune } from '../../src/prune/prepare.ts';
import type { PruneConfig } from '../../src/prune/config.ts';

const CRITERIA = ['snip', 'grasp', 'synflow'] as const;

async function main(): Promise<void> {
  const a = exportArgs(
    process.argv.slice(2),
    { density: '0.1', seed: '0', 'samples-per-class': '10', backend: 'wasm' },
    'npx tsx test/reference/export.ts <outDir> [--density 0.1] [--seed 0] [--samples-per-class 10] [--backend wasm]',
  );
  const args = { out: a.out, density: Number(a.density), seed: Number(a.seed), samplesPerClass: Number(a['samples-per-class']), backend: a.backend };
  const backend = await initBackend(args.backend);
  fs.mkdirSync(args.out, { recursive: true });

  const base: PruneConfig = {
    criterion: 'snip',
    model: 'lenet300',
    dataset: 'mnist',
    density: args.density,
    scope: 'global',
    samplesPerClass: args.samplesPerClass,
    seed: args.seed,
    temperature: 200,
    dumpScores: false,
  };

  // θ₀ and the scoring sample exactly as `pipeline prune` builds them (same data chunks the criteria see).
  const { model, data } = preparePrune(base);
  const theta0 = initParams(model, args.seed);
  saveSafetensors(path.join(args.out, 'theta0.safetensors'), new Map(model.specs.map((s) => [s.name, f32(theta0[s.name])])), {
    model: 'lenet300',
    seed: String(args.seed),
    layout: 'tfjs: dense weight [in, out] (= torch weight.T), bias [out]',
  });
  const xs: Float32Array[] = [];
  const ys: Int32Array[] = [];
  let shape: number[] = [];
  for (const { x, y } of data!.chunks()) {
    xs.push(Float32Array.from(x.dataSync() as Float32Array));
    ys.push(Int32Array.from(y.dataSync() as Int32Array));
    shape = [...x.shape];
    tf.dispose([x, y]);
  }
  const n = ys.reduce((a, b) => a + b.length, 0);
  if (n !== data!.n) throw new Error(`sample has ${n} examples, expected ${data!.n}`);
  const xAll = new Float32Array(xs.reduce((a, b) => a + b.length, 0));
  const yAll = new Int32Array(n);
  let ox = 0;
  let oy = 0;
  xs.forEach((b, i) => {
    xAll.set(b, ox);
    ox += b.length;
    yAll.set(ys[i], oy);
    oy += ys[i].length;
  });
  saveSafetensors(
    path.join(args.out, 'sample.safetensors'),
    { x: { dtype: 'F32', shape: [n, ...shape.slice(1)], data: xAll }, y: { dtype: 'I32', shape: [n], data: yAll } },
    { dataset: 'mnist', samples_per_class: String(args.samplesPerClass), layout: 'x: NHWC, normalized (x - 0.1307) / 0.3081' },
  );

  const total = model.prunable.reduce((a, p) => a + p.size, 0);
  const summary: Record<string, unknown> = {
    model: 'lenet300',
    dataset: 'mnist',
    seed: args.seed,
    samples_per_class: args.samplesPerClass,
    n,
    density: args.density,
    k: Math.round(args.density * total),
    total,
    prunable: model.prunable.map((p) => ({ name: p.name, shape: p.shape })),
    backend: backend.name,
    criteria: {} as Record<string, unknown>,
  };
  for (const name of CRITERIA) {
    const criterion = getCriterion(name);
    const bnMode = criterion.defaultBnMode;
    const t0 = performance.now();
    const result = await prune({ criterion, model, params: theta0, data, density: args.density, scope: 'global', bnMode, seed: args.seed, temperature: 200 });
    const seconds = (performance.now() - t0) / 1000;
    const masks = new Map<string, SafeTensor>();
    const scores = new Map<string, SafeTensor>();
    let kept = 0;
    for (const p of model.prunable) {
      const m = result.masks.get(p.name)!;
      kept += m.reduce((a, b) => a + b, 0);
      masks.set(p.name, { dtype: 'U8', shape: [...p.shape], data: Uint8Array.from(m) });
      scores.set(p.name, { dtype: 'F32', shape: [...p.shape], data: Float32Array.from(result.scores.get(p.name)!) });
    }
    const meta = { criterion: name, bn_mode: bnMode, rounds: String(result.rounds), density: String(args.density), temperature: '200' };
    saveSafetensors(path.join(args.out, `mask-${name}.safetensors`), masks, meta);
    saveSafetensors(path.join(args.out, `scores-${name}.safetensors`), scores, meta);
    (summary.criteria as Record<string, unknown>)[name] = { bn_mode: bnMode, rounds: result.rounds, kept, seconds };
    console.error(`${name}: kept ${kept}/${total} in ${result.rounds} round(s), ${seconds.toFixed(1)} s`);
  }
  // SynFlow's scores of the dense network (round 0), for a score-level comparison.
  const synflow = getCriterion('synflow');
  const dense = await synflow.score({ model, params: theta0, bnMode: synflow.defaultBnMode, seed: args.seed, round: 0, temperature: 200 });
  saveSafetensors(
    path.join(args.out, 'scores-synflow1.safetensors'),
    new Map(model.prunable.map((p) => [p.name, { dtype: 'F32', shape: [...p.shape], data: Float32Array.from(dense.scores.get(p.name)!) } as SafeTensor])),
    { criterion: 'synflow', bn_mode: synflow.defaultBnMode, rounds: '1', note: 'dense-network scores, no mask' },
  );
  tf.dispose(Object.values(theta0));
  fs.writeFileSync(path.join(args.out, 'export.json'), JSON.stringify(summary, null, 2) + '\n');
}

runExport(main);
