import type { Table } from 'apache-arrow';
import { readArrowFile } from '../../io/arrow.ts';
import { usage } from '../../util/errors.ts';
import { checkSurvivalRows, tableRounds } from '../survival-checks.ts';
import type { Criterion } from './types.ts';

/** Order-preserving map of a float32 to uint32 (IEEE-754 bits, negatives flipped). */
function orderedBits(view: DataView, v: number): number {
  view.setFloat32(0, v);
  const bits = view.getUint32(0);
  return bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

/** A column of the survival table as its typed array, or a one-line error naming what is wrong. */
function column<T extends Uint8Array | Float32Array>(t: Table, file: string, name: string, type: { new (n: number): T; name: string }): T {
  const values = t.getChild(name)?.toArray();
  if (!values) usage(`${file} has no column '${name}'; it is not a complete survival table: re-create it with 'pipeline irp'`);
  if (!(values instanceof type))
    usage(`${file}: column '${name}' is not ${type.name === 'Uint8Array' ? 'uint8' : 'float32'}; re-create the table with 'pipeline irp'`);
  return values as T;
}

/** The seed of the θ₀ a survival table's IRP started from. */
function tableSeed(table: string): number {
  const seed = Number(readArrowFile(table).schema.metadata.get('seed'));
  if (!Number.isInteger(seed) || seed < 0) usage(`${table} has no valid 'seed' in its metadata; re-create it with 'pipeline irp'`);
  return seed;
}

/**
 * The lottery-ticket baseline (GraSP's "LT" rows): keep the weights that survived the most IRP rounds,
 * ties broken by the last round's criterion score. Keys are rounds·2³² + ordered bits of that score,
 * exact in float64. A ticket is its mask *and* its initialization: the job trains from the table's own
 * θ₀ (checked weight by weight against its `theta` column); the job's seed orders the data only.
 */
export const lottery: Criterion = {
  name: 'lottery',
  description: 'longest IRP survivors from a survival table (--table), ties by the last round’s score; trains from the ticket’s θ₀',
  needsData: false,
  defaultBnMode: 'eval',
  defaultIterations: 1,
  initSeed: ({ table }) => {
    if (!table) usage("criterion 'lottery' needs --table <survival.arrow> from 'pipeline irp'");
    return tableSeed(table);
  },
  score: async ({ model, params, table }) => {
    if (!table) usage("criterion 'lottery' needs --table <survival.arrow> from 'pipeline irp'");
    const t = readArrowFile(table);
    const meta = t.schema.metadata;
    if (meta.get('format') !== 'pipeline-survival-v1') usage(`${table} is not a survival table (format '${meta.get('format') ?? 'none'}')`);
    if (meta.get('model') !== model.config.name || Number(meta.get('width')) !== model.config.width) {
      usage(
        `${table} was made for ${meta.get('model')} width ${meta.get('width')}, not ${model.config.name} width ${model.config.width}; prune the same model`,
      );
    }
    const total = model.prunable.reduce((n, p) => n + p.size, 0);
    if (t.numRows !== total) usage(`${table} has ${t.numRows} rows but ${model.config.name} has ${total} prunable weights`);
    const rounds = column(t, table, 'rounds_survived', Uint8Array);
    const layer = t.getChild('layer');
    if (!layer) usage(`${table} has no column 'layer'; it is not a complete survival table: re-create it with 'pipeline irp'`);
    let first = 0;
    for (const p of model.prunable) {
      for (const row of [first, first + p.size - 1])
        if (String(layer.get(row)) !== p.name)
          usage(
            `${table}: row ${row} belongs to '${layer.get(row)}' where ${model.config.name}'s weights put '${p.name}'; re-create the table with 'pipeline irp'`,
          );
      first += p.size;
    }
    checkSurvivalRows(table, tableRounds(table, meta), rounds, undefined, 0, (i) => String(layer.get(i)));
    const last = column(t, table, 'final_score', Float32Array);
    if (last.some((v) => !Number.isFinite(v))) usage(`${table}: column 'final_score' holds NaN or Inf; re-create the table with 'pipeline irp --force'`);
    const theta = column(t, table, 'theta', Float32Array);
    let at = 0;
    for (const p of model.prunable) {
      const w = await params[p.name].data();
      for (let i = 0; i < p.size; i++) {
        if (w[i] !== theta[at + i])
          usage(
            `${table}: θ₀ of ${p.name}[${i}] is ${theta[at + i]} but seed ${meta.get('seed')} initializes it to ${w[i]}; the table is not this model's ticket: re-create it with 'pipeline irp'`,
          );
      }
      at += p.size;
    }
    const view = new DataView(new ArrayBuffer(4));
    let offset = 0;
    const scores = new Map<string, Float64Array>();
    for (const p of model.prunable) {
      const s = new Float64Array(p.size);
      for (let i = 0; i < p.size; i++) s[i] = rounds[offset + i] * 2 ** 32 + orderedBits(view, last[offset + i]);
      scores.set(p.name, s);
      offset += p.size;
    }
    return { scores };
  },
};
