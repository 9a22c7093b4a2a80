import { spearman } from '../scoring/autos/metrics.ts';
import { readSurvivalSource, type SourceTable } from '../scoring/autos/source.ts';
import { usage } from '../util/errors.ts';

export interface TensorAgreement {
  name: string;
  size: number;
  /** Spearman ρ between the two runs' normalized survival labels (rounds_survived / E). */
  spearman: number;
  /** Kept fraction after the last round in each run. */
  final_density: [number, number];
  /** |A ∩ B| / |A ∪ B| of the weights alive after the last round. */
  final_jaccard: number;
}

export interface SurvivalAgreement {
  tables: [string, string];
  rounds: [number, number];
  /**
   * When one run's density schedule is the first rounds of the other's (a shorter run with longer rounds,
   * say), both are compared after those shared rounds: counts clipped to it, "final" = alive after it.
   */
  shared_rounds: number | null;
  /** Over all weights, pooled. */
  spearman: number;
  final_jaccard: number;
  /** Share of A's final survivors that B also kept (B's expected overlap by chance is B's final density). */
  final_overlap: number;
  chance_overlap: number;
  /** Max |final density A − final density B| over tensors: how differently the runs allocate. */
  max_layer_density_gap: number;
  tensors: TensorAgreement[];
}

const roundsOf = (t: SourceTable) => Number(t.metadata.get('rounds'));

function densitiesOf(t: SourceTable): number[] {
  try {
    const d = JSON.parse(t.metadata.get('densities') ?? '[]');
    return Array.isArray(d) ? d.map(Number) : [];
  } catch {
    return [];
  }
}

/** k when the shorter schedule equals the first k rounds of the longer one (and they differ in length), else null. */
export function sharedPrefix(a: number[], b: number[]): number | null {
  const k = Math.min(a.length, b.length);
  if (k === 0 || a.length === b.length) return null;
  for (let i = 0; i < k; i++) if (Math.abs(a[i] - b[i]) > 1e-9 * Math.max(a[i], b[i])) return null;
  return k;
}

/** A table's tensors with survival counts clipped to k rounds and labels count / k. */
function clipped(t: SourceTable, k: number): SourceTable {
  return {
    ...t,
    tensors: t.tensors.map((x) => {
      const rounds = x.rounds.map((r) => Math.min(r, k));
      return { ...x, rounds, y: Float32Array.from(rounds, (r) => r / k) };
    }),
  };
}

/**
 * How far two IRP runs of the same network agree on the survival labels (e.g. a short recipe against a
 * longer one): rank agreement of the labels and overlap of the final survivors, per tensor and pooled.
 */
export async function compareSurvival(pathA: string, pathB: string): Promise<SurvivalAgreement> {
  let a = await readSurvivalSource(pathA, false);
  let b = await readSurvivalSource(pathB, false);
  const shapes = (t: SourceTable) => t.tensors.map((x) => `${x.layer.name}:${x.layer.shape.join('x')}`).join(',');
  if (shapes(a) !== shapes(b)) usage(`${pathA} and ${pathB} describe different networks (tensors or shapes differ); compare IRP runs of one model`);
  const rounds: [number, number] = [roundsOf(a), roundsOf(b)];
  const shared = sharedPrefix(densitiesOf(a), densitiesOf(b));
  if (shared !== null) [a, b] = [clipped(a, shared), clipped(b, shared)];
  const [ea, eb] = shared !== null ? [shared, shared] : rounds;
  let inter = 0;
  let union = 0;
  let aliveA = 0;
  let aliveB = 0;
  let n = 0;
  const tensors = a.tensors.map((ta, i) => {
    const tb = b.tensors[i];
    let ti = 0;
    let tu = 0;
    let ka = 0;
    let kb = 0;
    for (let j = 0; j < ta.rounds.length; j++) {
      const x = ta.rounds[j] === ea;
      const y = tb.rounds[j] === eb;
      ka += +x;
      kb += +y;
      ti += +(x && y);
      tu += +(x || y);
    }
    inter += ti;
    union += tu;
    aliveA += ka;
    aliveB += kb;
    n += ta.rounds.length;
    const size = ta.rounds.length;
    return {
      name: ta.layer.name,
      size,
      spearman: spearman(ta.y, tb.y),
      final_density: [ka / size, kb / size] as [number, number],
      final_jaccard: tu ? ti / tu : 1,
    };
  });
  const pooled = (t: SourceTable) => Float32Array.from(t.tensors.flatMap((x) => Array.from(x.y)));
  return {
    tables: [pathA, pathB],
    rounds,
    shared_rounds: shared,
    spearman: spearman(pooled(a), pooled(b)),
    final_jaccard: union ? inter / union : 1,
    final_overlap: aliveA ? inter / aliveA : 1,
    chance_overlap: aliveB / n,
    max_layer_density_gap: Math.max(...tensors.map((t) => Math.abs(t.final_density[0] - t.final_density[1]))),
    tensors,
  };
}
