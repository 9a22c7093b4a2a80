import type { ChannelGroup } from '../../models/types.ts';

/** Channels kept at a channel density: round(d·total), never fewer than one per group. */
export function channelBudget(groups: ChannelGroup[], density: number): number {
  const total = groups.reduce((n, g) => n + g.size, 0);
  return Math.max(groups.length, Math.round(density * total));
}

/**
 * Global ranking of alive channels with at least one kept per group: each group's best channel first,
 * then the highest remaining scores up to `keep`. Ties go to the earlier group, then the lower index.
 */
export function selectChannels(
  groups: ChannelGroup[],
  scores: Map<string, Float32Array>,
  alive: Map<string, Uint8Array>,
  keep: number,
): Map<string, Uint8Array> {
  if (keep < groups.length) throw new Error(`selectChannels: ${keep} channels cannot cover ${groups.length} groups`);
  const out = new Map(groups.map((g) => [g.name, new Uint8Array(g.size)]));
  const rest: Array<{ g: number; i: number; s: number }> = [];
  let kept = 0;
  groups.forEach((group, g) => {
    const s = scores.get(group.name)!;
    const a = alive.get(group.name)!;
    let best = -1;
    for (let i = 0; i < group.size; i++) {
      if (!a[i]) continue;
      if (best < 0 || s[i] > s[best]) best = i;
    }
    if (best < 0) throw new Error(`selectChannels: group ${group.name} has no alive channel`);
    out.get(group.name)![best] = 1;
    kept++;
    for (let i = 0; i < group.size; i++) if (a[i] && i !== best) rest.push({ g, i, s: s[i] });
  });
  rest.sort((p, q) => q.s - p.s || p.g - q.g || p.i - q.i);
  for (let k = 0; kept < keep && k < rest.length; k++, kept++) out.get(groups[rest[k].g].name)![rest[k].i] = 1;
  return out;
}
