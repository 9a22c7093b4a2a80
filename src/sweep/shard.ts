import { usage } from '../util/errors.ts';

/** `--shard i/n`: this process runs the jobs whose index ≡ i (mod n). */
export function parseShard(spec: string | undefined): { index: number; count: number } {
  if (spec === undefined) return { index: 0, count: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(spec);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) usage(`--shard must be i/n with 0 ≤ i < n (e.g. 0/4), got '${spec}'`);
  return { index, count };
}
