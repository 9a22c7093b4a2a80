import { usage } from '../../util/errors.ts';
import { autos } from './autos.ts';
import { crop } from './crop.ts';
import { force } from './force.ts';
import { grasp, graspAbs } from './grasp.ts';
import { iterSnip } from './iter-snip.ts';
import { lottery } from './lottery.ts';
import { magnitude } from './magnitude.ts';
import { ntkSap } from './ntk-sap.ts';
import { prospr } from './prospr.ts';
import { random } from './random.ts';
import { snip } from './snip.ts';
import { synflow } from './synflow.ts';
import { CRITERION_NAMES } from './names.ts';
import type { Criterion } from './types.ts';

export const CRITERIA: Record<string, Criterion> = Object.fromEntries(
  [random, magnitude, snip, grasp, graspAbs, synflow, iterSnip, force, prospr, ntkSap, lottery, autos, crop].map((c) => [c.name, c]),
);
if (Object.keys(CRITERIA).join() !== CRITERION_NAMES.join()) {
  throw new Error(`criteria registry (${Object.keys(CRITERIA).join()}) and names.ts (${CRITERION_NAMES.join()}) differ: list each criterion in both`);
}

export function getCriterion(name: string): Criterion {
  const c = CRITERIA[name];
  if (!c) usage(`unknown criterion '${name}': choose one of ${Object.keys(CRITERIA).join(', ')}`);
  return c;
}

/** The criterion of that name, or undefined (no usage error: for defaults of names checked elsewhere). */
const known = (name: string): Criterion | undefined => (Object.hasOwn(CRITERIA, name) ? CRITERIA[name] : undefined);

/** The iterations a sweep or run job config records for this criterion (undefined: left to the default). */
export function jobIterationsOf(name: string): number | undefined {
  const c = known(name);
  return c?.iterationsInJobs ? c.defaultIterations : undefined;
}

/** The criterion's own default layer allocation ('global' unless it names one; unknown names: 'global'). */
export function defaultAllocationOf(name: string): string {
  return known(name)?.defaultAllocation ?? 'global';
}

export type { Criterion, CriterionOption, ScoreOutput, ScoringInput } from './types.ts';
export { resolveOptions } from './options.ts';
