import { usage } from '../../util/errors.ts';

export const ALLOCATION_FEATURES = ['bias', 'logit_global', 'log_fan_in', 'log_fan_out', 'log_kernel', 'kind', 'rel_depth', 'log_size_share'] as const;
export type AllocationFeature = (typeof ALLOCATION_FEATURES)[number];
/**
 * Chosen by leave-one-architecture-out error on three snip-IRP tables (lenet300, lenet5, vgg11 w8; mnist,
 * 10 rounds to 2%): share of the budget put in the wrong layer at the last round, mean over the three
 * held-out nets, 23.0% with these three features vs 25.0% adding log_fan_in, 28–34% with fan-in/out, depth
 * or all eight, 41.0% for one density everywhere (`layer`) and 25.6% for ERK. Two training nets cannot pin
 * many descriptors down; refit the choice when more source architectures exist (--allocation-features).
 */
export const DEFAULT_ALLOCATION_FEATURES: AllocationFeature[] = ['bias', 'logit_global', 'log_size_share'];
export const DEFAULT_ALLOCATION_LAMBDA = 1e-3;

export function parseAllocationFeatures(list: string): AllocationFeature[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names)
    if (!(ALLOCATION_FEATURES as readonly string[]).includes(n)) usage(`unknown allocation feature '${n}': choose from ${ALLOCATION_FEATURES.join(', ')}`);
  if (new Set(names).size !== names.length) usage(`--allocation-features lists a feature twice: ${list}`);
  if (!names.length) usage('--allocation-features is empty');
  return names as AllocationFeature[];
}
