import { usage } from '../util/errors.ts';

const RECREATE = "re-create the table with 'pipeline irp'";

/** The table's IRP round count E (its 'rounds' metadata): a positive integer, else a one-line refusal. */
export function tableRounds(file: string, metadata: Map<string, string>): number {
  const raw = metadata.get('rounds');
  const rounds = Number(raw);
  if (raw === undefined || !Number.isInteger(rounds) || rounds < 1 || rounds > 255)
    usage(`${file}: metadata 'rounds' is ${raw === undefined ? 'missing' : `'${raw}'`}, not a round count in 1…255; ${RECREATE}`);
  return rounds;
}

/**
 * rounds_survived in 0…E and score (= rounds_survived / E) in [0, 1], for rows `first`… of a batch:
 * a value outside is named by its row and tensor.
 */
export function checkSurvivalRows(
  file: string,
  rounds: number,
  survived: Uint8Array,
  score: Float32Array | undefined,
  first: number,
  layerAt: (row: number) => string,
): void {
  for (let i = 0; i < survived.length; i++) {
    if (survived[i] > rounds) usage(`${file}: row ${first + i} (${layerAt(i)}) survived ${survived[i]} rounds of the table's ${rounds}; ${RECREATE}`);
    const s = score?.[i];
    if (s !== undefined && !(s >= 0 && s <= 1)) usage(`${file}: row ${first + i} (${layerAt(i)}) has score ${s}, outside [0, 1]; ${RECREATE}`);
  }
}
