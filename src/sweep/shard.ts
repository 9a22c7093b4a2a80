import { usage } from '../util/errors.ts';

export interface Shard {
  index: number;
  count: number;
}

/** `--shard i/n` (or another flag of that form, e.g. run's `--task`): this process runs the jobs whose index ≡ i (mod n). */
export function parseShard(spec: string | undefined, flag = '--shard'): Shard {
  if (spec === undefined) return { index: 0, count: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(spec);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) usage(`${flag} must be i/n with 0 ≤ i < n (e.g. 0/4), got '${spec}'`);
  return { index, count };
}

/** Whether the job at plan position `index` belongs to the shard. */
export const inShard = (index: number, shard: Shard) => index % shard.count === shard.index;
