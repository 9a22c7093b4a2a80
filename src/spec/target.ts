import type { z } from 'zod';
import type { TargetSchema } from '../train/config.ts';

/** A network to prune and train (a sweep's `targets`, a run's `prune.targets`). */
export type Target = z.infer<typeof TargetSchema>;

/** `<model>[-w<width>]/<dataset>`: a target's label in the results (results.csv's `target`). */
export const targetLabel = (t: { model: string; width?: number; dataset: string }) => `${t.model}${t.width ? `-w${t.width}` : ''}/${t.dataset}`;

/** `<model>[-w<width>]-<dataset>` made safe for a directory name. */
export const targetSlug = (t: { model: string; width?: number; dataset: string }) => `${t.model}${t.width ? `-w${t.width}` : ''}-${safeName(t.dataset)}`;

/** A dataset name made safe for a directory name. */
export const safeName = (s: string) => s.replace(/[^a-z0-9-]/gi, '_');
