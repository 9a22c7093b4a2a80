import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { loadDataset } from '../../data/registry.ts';
import { readArrowBatches } from '../../io/arrow.ts';
import { createModel, initParams, isModelName } from '../../models/index.ts';
import { synflowScores } from '../criteria/synflow.ts';
import { usage } from '../../util/errors.ts';
import { checkSurvivalRows, tableRounds } from '../survival-checks.ts';
import { yieldToEventLoop } from '../../util/yield.ts';
import type { LayerDescriptor, NetworkContext, TensorColumns } from './features.ts';

export interface SourceTensor extends TensorColumns {
  source: string;
  layer: LayerDescriptor;
  /** Survival label in [0, 1] (rounds_survived / E). */
  y: Float32Array;
  rounds: Uint8Array;
  /** Its network's context features (ctx_), when the fit uses them. */
  context?: NetworkContext;
}

export interface SourceTable {
  path: string;
  metadata: Map<string, string>;
  tensors: SourceTensor[];
}

const REQUIRED = ['layer', 'theta', 'grad', 'rounds_survived', 'score'];
const names = (batch: { schema: { fields: Array<{ name: string }> } }) => batch.schema.fields.map((f) => f.name);

/** Reads a survival table batch by batch, keeping only the columns AutoS needs. */
export async function readSurvivalSource(path: string, needHg: boolean): Promise<SourceTable> {
  if (!fs.existsSync(path)) usage(`survival table ${path} not found: run 'pipeline irp' first`);
  const parts = new Map<string, { theta: Float32Array[]; grad: Float32Array[]; hg: Float32Array[]; y: Float32Array[]; rounds: Uint8Array[] }>();
  let metadata: Map<string, string> | undefined;
  let rows = 0;
  let rounds = 0;
  for await (const batch of readArrowBatches(path)) {
    await yieldToEventLoop();
    if (!metadata) {
      metadata = batch.schema.metadata;
      const missing = [...REQUIRED, ...(needHg ? ['hg'] : [])].filter((c) => !names(batch).includes(c));
      if (missing.length)
        usage(`${path} lacks column(s) ${missing.join(', ')}; pass a survival table from 'pipeline irp'${needHg ? ' or drop hg from --features' : ''}`);
      if (!metadata.has('layers')) usage(`${path} has no 'layers' metadata; pass a survival table from 'pipeline irp'`);
      rounds = tableRounds(path, metadata);
    }
    rows += batch.numRows;
    const layer = batch.getChild('layer')!;
    const col = (n: string) => batch.getChild(n)!.toArray();
    const theta = col('theta') as Float32Array;
    const grad = col('grad') as Float32Array;
    // Hg is read whenever the table has it: GraSP's θ·Hg is a baseline of the fit's metrics.
    const hg = names(batch).includes('hg') ? (col('hg') as Float32Array) : undefined;
    const y = col('score') as Float32Array;
    const survived = col('rounds_survived') as Uint8Array;
    checkSurvivalRows(path, rounds, survived, y, rows - batch.numRows, (i) => String(layer.get(i)));
    let start = 0;
    while (start < batch.numRows) {
      const name = String(layer.get(start));
      let end = start + 1;
      while (end < batch.numRows && layer.get(end) === name) end++;
      const p = parts.get(name) ?? { theta: [], grad: [], hg: [], y: [], rounds: [] };
      p.theta.push(theta.slice(start, end));
      p.grad.push(grad.slice(start, end));
      if (hg) p.hg.push(hg.slice(start, end));
      p.y.push(y.slice(start, end));
      p.rounds.push(survived.slice(start, end));
      parts.set(name, p);
      start = end;
    }
  }
  if (!metadata || rows === 0) usage(`${path} holds no rows; pass a non-empty survival table`);
  let descriptors: LayerDescriptor[];
  try {
    descriptors = JSON.parse(metadata.get('layers')!) as LayerDescriptor[];
  } catch {
    usage(`${path}: its 'layers' metadata is not JSON; pass a survival table from 'pipeline irp'`);
  }
  const concat = <T extends Float32Array | Uint8Array>(xs: T[], make: (n: number) => T): T => {
    const out = make(xs.reduce((n, x) => n + x.length, 0));
    let o = 0;
    for (const x of xs) {
      out.set(x, o);
      o += x.length;
    }
    return out;
  };
  if (!Array.isArray(descriptors)) usage(`${path}: its 'layers' metadata is not a list of tensors; pass a survival table from 'pipeline irp'`);
  const described = new Set(descriptors.map((d) => d.name));
  const unlisted = [...parts.keys()].find((name) => !described.has(name));
  if (unlisted !== undefined)
    usage(`${path}: rows of tensor '${unlisted}' but no such tensor in its 'layers' metadata; re-create the table with 'pipeline irp'`);
  const empty = descriptors.find((d) => !parts.has(d.name));
  if (empty) usage(`${path}: tensor '${empty.name}' of its 'layers' metadata has no rows; re-create the table with 'pipeline irp'`);
  const tensors = descriptors.map((d) => {
    const p = parts.get(d.name)!;
    const size = Array.isArray(d.shape) ? d.shape.reduce((a, b) => a * b, 1) : Number.NaN;
    const rowsOf = p.theta.reduce((n, x) => n + x.length, 0);
    if (rowsOf !== size)
      usage(
        `${path}: tensor '${d.name}' has ${rowsOf} rows but its shape [${d.shape}] in the 'layers' metadata has ${size} weights; re-create the table with 'pipeline irp'`,
      );
    for (const [column, chunks] of [
      ['theta', p.theta],
      ['grad', p.grad],
      ['hg', p.hg],
    ] as const) {
      if (chunks.some((x) => x.some((v) => !Number.isFinite(v))))
        usage(`${path}: column '${column}' of tensor '${d.name}' holds NaN or Inf; re-create the table with 'pipeline irp'`);
    }
    return {
      source: path,
      layer: d,
      theta: concat(p.theta, (n) => new Float32Array(n)),
      grad: concat(p.grad, (n) => new Float32Array(n)),
      hg: p.hg.length ? concat(p.hg, (n) => new Float32Array(n)) : undefined,
      y: concat(p.y, (n) => new Float32Array(n)),
      rounds: concat(p.rounds, (n) => new Uint8Array(n)),
    };
  });
  return { path, metadata, tensors };
}

/**
 * SynFlow scores of each source's dense network at its θ₀ (for rank_synflow), from the model and seed in
 * the table's metadata. The table's θ column must be that initialization, so the scores belong to it.
 */
export async function attachSynflow(table: SourceTable): Promise<void> {
  const meta = table.metadata;
  const name = meta.get('model') ?? '';
  if (!isModelName(name)) usage(`${table.path}: its 'model' metadata '${name}' is not a model of this version; rank_synflow needs it`);
  const num = (key: string) => (Number.isFinite(Number(meta.get(key) || 'x')) ? Number(meta.get(key)) : undefined);
  const data = loadDataset(meta.get('dataset') ?? '', { padTo: num('pad_to') });
  const model = createModel(name, {
    width: num('width'),
    batchNorm: meta.get('batch_norm') === 'true' ? true : meta.get('batch_norm') === 'false' ? false : undefined,
    inputShape: data.train.shape,
    numClasses: data.numClasses,
  });
  const params = initParams(model, Number(meta.get('seed')));
  for (const t of table.tensors) {
    const theta0 = await params[t.layer.name]?.data();
    if (!theta0 || theta0.length !== t.theta.length || theta0.some((v, i) => v !== t.theta[i])) {
      tf.dispose(Object.values(params));
      usage(
        `${table.path}: tensor '${t.layer.name}' is not ${name}'s initialization with seed ${meta.get('seed')} on this version; re-create the table with 'pipeline irp' or drop rank_synflow`,
      );
    }
  }
  const flow = await synflowScores(model, params);
  tf.dispose(Object.values(params));
  for (const t of table.tensors) t.flow = flow.get(t.layer.name);
}
