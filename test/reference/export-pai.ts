/**
 * Exports what test/reference/compare_pai.py needs to recompute the masks of iter-snip, force, prospr and
 * ntk-sap in PyTorch float64: θ₀ (every tensor, tfjs layout), the scoring sample, our masks at each
 * density, and NTK-SAP's random draws (weights, noise input, perturbation per round and draw: the
 * criterion draws them from our seeded generator, so the reference reads them instead of drawing its own).
 *
 *   npx tsx test/reference/export-pai.ts <outDir> [--model resnet20] [--width 8] [--densities 0.1,0.05,0.02]
 *       [--criteria iter-snip,force,prospr,ntk-sap] [--seed 0] [--backend wasm]
 *
 * Everything goes through the library as `pipeline prune` does (preparePrune: mnist zero-padded to 32, BN,
 * 10 scoring examples per class in one chunk; initParams; prune() with each criterion's defaults).
 * Files: theta0.safetensors, sample.safetensors, mask-<criterion>-d<density>.safetensors, for iterative
 * criteria every round's masks (rounds-<criterion>-d<density>.safetensors: `r<round>.<tensor>`), ProsPr's
 * inner trajectory and meta-gradient (prospr-path.safetensors: `p<step>.<tensor>`, `meta.<tensor>`),
 * ntk-draws-r<round>.safetensors (`d<j>.x`, `d<j>.theta.<tensor>`, `d<j>.delta.<tensor>`), export.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.ts';
import { saveSafetensors, type SafeTensor } from '../../src/io/safetensors.ts';
import { initParams } from '../../src/models/index.ts';
import type { PruneConfig } from '../../src/prune/config.ts';
import { preparePrune } from '../../src/prune/prepare.ts';
import { getCriterion, resolveOptions } from '../../src/scoring/criteria/index.ts';
import { ntkDraws } from '../../src/scoring/criteria/ntk-sap.ts';
import { prosprMetaGradient, prosprPath } from '../../src/scoring/criteria/prospr.ts';
import { prune } from '../../src/scoring/prune.ts';
import { exportArgs, f32, runExport } from './export-common.ts';

async function main(): Promise<void> {
  const a = exportArgs(
    process.argv.slice(2),
    { model: 'resnet20', width: '8', densities: '0.1,0.05,0.02', criteria: 'iter-snip,force,prospr,ntk-sap', seed: '0', backend: 'wasm' },
    'npx tsx test/reference/export-pai.ts <outDir> [--model resnet20] [--width 8] [--densities 0.1,0.05,0.02] [--criteria …]',
  );
  const backend = await initBackend(a.backend);
  const seed = Number(a.seed);
  const densities = a.densities.split(',').map(Number);
  const criteria = a.criteria.split(',');
  fs.mkdirSync(a.out, { recursive: true });
  const base: PruneConfig = {
    criterion: 'snip',
    model: a.model,
    width: Number(a.width),
    dataset: 'mnist',
    padTo: 32,
    batchNorm: true,
    density: densities[0],
    scope: 'global',
    samplesPerClass: 10,
    seed,
    temperature: 200,
    dumpScores: false,
  };
  const { model, data } = preparePrune(base);
  const theta0 = initParams(model, seed);
  saveSafetensors(path.join(a.out, 'theta0.safetensors'), new Map(model.specs.map((s) => [s.name, f32(theta0[s.name])])), {
    model: a.model,
    width: a.width,
    layout: 'tfjs: conv [kh, kw, cin, cout], dense [in, out]',
  });
  const chunks = [...data!.chunks()];
  if (chunks.length !== 1) throw new Error(`expected the scoring sample in one chunk, got ${chunks.length}`);
  saveSafetensors(
    path.join(a.out, 'sample.safetensors'),
    { x: f32(chunks[0].x), y: { dtype: 'I32', shape: [chunks[0].y.shape[0]], data: Int32Array.from(chunks[0].y.dataSync()) } },
    { layout: 'x: NHWC, normalized, zero-padded to 32' },
  );
  tf.dispose([chunks[0].x, chunks[0].y]);
  const summary = {
    model: a.model,
    width: Number(a.width),
    seed,
    backend: backend.name,
    prunable: model.prunable.map((p) => ({ name: p.name, shape: p.shape })),
    buffers: model.buffers,
    criteria: {} as Record<string, { bn_mode: string; rounds: number; options: Record<string, number>; regrows: boolean; seconds: Record<string, number> }>,
  };
  for (const name of criteria) {
    const criterion = getCriterion(name);
    const options = resolveOptions(criterion);
    const seconds: Record<string, number> = {};
    for (const density of densities) {
      const t0 = performance.now();
      const perRound = new Map<string, SafeTensor>();
      const r = await prune({
        criterion,
        model,
        params: theta0,
        data,
        density,
        scope: 'global',
        bnMode: criterion.defaultBnMode,
        seed,
        temperature: 200,
        onRoundMasks: (round, masks) => {
          for (const p of model.prunable) perRound.set(`r${round}.${p.name}`, { dtype: 'U8', shape: [...p.shape], data: Uint8Array.from(masks.get(p.name)!) });
        },
      });
      seconds[String(density)] = (performance.now() - t0) / 1000;
      if (r.rounds > 1) saveSafetensors(path.join(a.out, `rounds-${name}-d${density}.safetensors`), perRound, { criterion: name, density: String(density) });
      const masks = new Map<string, SafeTensor>(
        model.prunable.map((p) => [p.name, { dtype: 'U8', shape: [...p.shape], data: Uint8Array.from(r.masks.get(p.name)!) }]),
      );
      saveSafetensors(path.join(a.out, `mask-${name}-d${density}.safetensors`), masks, { criterion: name, density: String(density), rounds: String(r.rounds) });
      console.error(`${name} at density ${density}: ${r.rounds} round(s), ${seconds[String(density)].toFixed(1)} s`);
    }
    summary.criteria[name] = { bn_mode: criterion.defaultBnMode, rounds: criterion.defaultIterations, options, regrows: Boolean(criterion.regrows), seconds };
    if (name === 'prospr') {
      // Our inner trajectory and meta-gradient, so the reference can also differentiate along our own steps.
      const opts = { steps: options.steps, lr: options.lr };
      const { names, path: steps } = prosprPath(model, theta0, data!, criterion.defaultBnMode, opts);
      const entries = new Map<string, SafeTensor>();
      steps.forEach((ts, k) => ts.forEach((t, i) => entries.set(`p${k}.${names[i]}`, f32(t))));
      tf.dispose(steps.flat());
      const meta = await prosprMetaGradient(model, theta0, data!, criterion.defaultBnMode, opts);
      for (const p of model.prunable) entries.set(`meta.${p.name}`, { dtype: 'F32', shape: [...p.shape], data: meta.get(p.name)! });
      saveSafetensors(path.join(a.out, 'prospr-path.safetensors'), entries, { steps: String(opts.steps), lr: String(opts.lr) });
    }
    if (name === 'ntk-sap') {
      for (let round = 0; round < criterion.defaultIterations; round++) {
        const entries = new Map<string, SafeTensor>();
        ntkDraws(model, seed, round, { draws: options.draws, epsilon: options.epsilon, inputsPerClass: options.inputsPerClass }).forEach((d, j) => {
          entries.set(`d${j}.x`, f32(d.x));
          for (const s of model.specs) entries.set(`d${j}.theta.${s.name}`, f32(d.params[s.name]));
          model.prunable.forEach((p, i) => entries.set(`d${j}.delta.${p.name}`, f32(d.delta[i])));
          tf.dispose([d.x, ...d.delta, ...Object.values(d.params)]);
        });
        saveSafetensors(path.join(a.out, `ntk-draws-r${round}.safetensors`), entries, { round: String(round) });
      }
    }
  }
  fs.writeFileSync(path.join(a.out, 'export.json'), JSON.stringify(summary, null, 2) + '\n');
}

runExport(main);
