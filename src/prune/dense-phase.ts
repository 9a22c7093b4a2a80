import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readJsonFile } from '../util/json-text.ts';
import { makeDirs, writeJsonAtomic } from '../io/atomic.ts';
import { configHash } from '../io/rundir.ts';
import { loadSafetensors } from '../io/safetensors.ts';
import type { ParamMap } from '../models/index.ts';
import { train } from '../train/trainer.ts';
import { latestPruneEpoch, type PruneConfig } from './config.ts';
import { plateauEpoch, relativeDistance } from './early.ts';
import type { Prepared } from './prepare.ts';

/**
 * Dense training before pruning (--when epoch:K | early), in <dir>/dense, resumable: the epoch-1
 * weights, the distance sequence and the trigger decision are kept on disk. Returns the weights to
 * score and how many epochs they trained, or undefined for pruning at initialization.
 */
export async function densePhase(
  config: PruneConfig,
  prepared: Prepared,
  theta0: ParamMap,
  dir: string,
  identity: object,
): Promise<{ params: ParamMap; epochs: number } | undefined> {
  const when = config.when ?? 'init';
  if (when === 'init') return undefined;
  const recipe = config.train!;
  const denseDir = path.join(dir, 'dense');
  const decisionFile = path.join(denseDir, 'pruned_at.json');
  const distanceFile = path.join(denseDir, 'distances.json');
  const firstFile = path.join(denseDir, 'epoch1.safetensors');
  const cap = latestPruneEpoch(when, config.earlyMaxEpochs, recipe.epochs);
  const damaged = `rerun with --force to redo the dense phase`;
  const decided = fs.existsSync(decisionFile) ? (readJsonFile(decisionFile, damaged) as { epoch: number }).epoch : undefined;
  const names = prepared.model.prunable.map((p) => p.name);
  const distances: number[] = fs.existsSync(distanceFile) ? (readJsonFile(distanceFile, damaged) as number[]) : [];
  let first: Float32Array[] | undefined;
  makeDirs(denseDir);
  const run = await train({
    // Same config hash whatever the stopping epoch, so a resumed run finds its checkpoint.
    config: { ...recipe, epochs: decided ?? cap },
    configHash: configHash({ ...identity, phase: 'dense' }),
    model: prepared.model,
    dataset: prepared.dataset!,
    params: Object.fromEntries(Object.entries(theta0).map(([n, t]) => [n, tf.clone(t)])),
    outDir: denseDir,
    resume: true,
    label: `dense before pruning (${when})`,
    snapshot: when === 'early' ? { epoch: 1, path: firstFile } : undefined,
    onEpoch: async (m, params) => {
      if (when !== 'early') return undefined;
      const w = (await Promise.all(names.map((n) => params[n].data()))) as Float32Array[];
      first ??= m.epoch === 1 ? w.map((a) => a.slice()) : names.map((n) => loadSafetensors(firstFile).tensors[n].data as Float32Array);
      distances.push(relativeDistance(w, first));
      writeJsonAtomic(distanceFile, distances);
      const t = plateauEpoch(distances, config.density, cap);
      if (t === null) return undefined;
      writeJsonAtomic(decisionFile, { epoch: t, distances });
      return 'stop';
    },
  });
  return { params: run.params, epochs: run.metrics.length };
}
