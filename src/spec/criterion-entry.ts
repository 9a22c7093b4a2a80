import type { PruneConfig } from '../prune/config.ts';
import { defaultAllocationOf, jobIterationsOf } from '../scoring/criteria/index.ts';
import { usage } from '../util/errors.ts';

/** Label of the unpruned baseline in tables and job names. */
export const DENSE_SERIES = 'dense';

/** A criterion entry of a sweep or run: what to prune with, and how. */
export interface CriterionEntry {
  criterion: string;
  /** Layer allocation; undefined: the criterion's default (left out of the job config). */
  allocation?: string;
  /** Channel pruning (`structured:<criterion>`). */
  structured: boolean;
  /** Rounds; undefined: one shot (or the criterion's own default when it has none in jobs). */
  iterations?: number;
  reconnect?: true;
}

/**
 * 'grasp' | 'autos@<allocation>' | 'structured:crop' (channel pruning; its density is the kept fraction of
 * channels), each optionally '#<rounds>' ('autos@synflow#1': one shot) and then '+reconnect'
 * (replace disconnected kept weights after pruning). Without @, the criterion's default allocation;
 * without #, its default rounds; without +reconnect, none (no key in the job config, so plain entries
 * keep their job directories).
 */
export function parseEntry(entry: string): Required<Pick<CriterionEntry, 'criterion' | 'allocation' | 'structured'>> & CriterionEntry {
  const structured = entry.startsWith('structured:');
  const [body, modifier, ...more] = (structured ? entry.slice('structured:'.length) : entry).split('+');
  if (more.length > 0 || (modifier !== undefined && modifier !== 'reconnect') || (structured && modifier !== undefined)) {
    usage(`criterion entry '${entry}': only '+reconnect' may end an entry (unstructured criteria), e.g. 'snip+reconnect'`);
  }
  const [spec, rounds, ...extra] = body.split('#');
  if (rounds !== undefined && (extra.length > 0 || !/^[1-9]\d*$/.test(rounds))) {
    usage(`criterion entry '${entry}': the rounds after # must be a positive integer, e.g. 'autos@synflow#1' for one shot`);
  }
  const [criterion, explicit] = spec.split('@');
  const iterations = rounds !== undefined ? Number(rounds) : structured ? undefined : jobIterationsOf(criterion);
  return {
    criterion,
    allocation: explicit ?? (structured ? 'global' : defaultAllocationOf(criterion)),
    structured,
    iterations,
    ...(modifier ? { reconnect: true } : {}),
  };
}

/** A job at density 1 keeps every weight: it is the dense network, whatever criterion it names. */
export const isDenseConfig = (config: PruneConfig) => config.density === 1 && !config.structured;

/** The table label of a job: its criterion entry, '#k' where its rounds are not the entry's default, '+reconnect'. */
export function formatEntry(config: PruneConfig): string {
  if (isDenseConfig(config)) return DENSE_SERIES;
  const allocation = config.allocation && config.allocation !== 'global' ? `@${config.allocation}` : '';
  const rounds = config.iterations !== undefined && config.iterations !== jobIterationsOf(config.criterion) ? `#${config.iterations}` : '';
  const reconnect = config.reconnect ? '+reconnect' : '';
  return `${config.structured ? 'structured:' : ''}${config.criterion}${allocation}${rounds}${reconnect}`;
}

/** An entry as it appears in job directory names ('autos@synflow#1' → 'autos-synflow-1'). */
export const entrySlug = (entry: string) => entry.replace(/[@:#+]/g, '-');
