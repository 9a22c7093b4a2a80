import fs from 'node:fs';
import path from 'node:path';
import { loadDataset } from '../data/registry.ts';
import { scoringSample } from '../data/scoring-sample.ts';
import { createModel } from '../models/index.ts';
import { checkAllocation, checkKeepsSome } from '../scoring/allocation.ts';
import { CRITERIA, getCriterion, resolveOptions } from '../scoring/criteria/index.ts';
import { checkStructured } from '../prune/structured/stage.ts';
import { UsageError, usage } from '../util/errors.ts';
import { parseEntry } from './criterion-entry.ts';
import { inConfigTerms } from './flag-keys.ts';
import type { Level } from './plan.ts';
import { needsAutos } from './prune-job.ts';
import type { Target } from './target.ts';

/** What the entries' criteria need from outside the plan; 'later' when an earlier stage of a run makes it. */
export interface EntryInputs {
  autos?: string | 'later';
  table?: string | 'later';
}

/** Every entry's syntax, criterion and allocation, and the input its criterion needs, as one line naming `<source>: <field>[i]`. */
export function checkEntries(entries: readonly string[], source: string, field: string, inputs: EntryInputs): void {
  entries.forEach((entry, i) => {
    const where = `${source}: ${field}[${i}] '${entry}'`;
    const { criterion, allocation } = at(where, () => parseEntry(entry));
    if (!CRITERIA[criterion]) usage(`${where}: unknown criterion '${criterion}'; choose one of ${Object.keys(CRITERIA).join(', ')}`);
    at(where, () => checkAllocation(allocation, Object.keys(CRITERIA)));
    if (needsAutos({ criterion, allocation }) && inputs.autos !== 'later' && !(inputs.autos && fs.existsSync(path.join(inputs.autos, 'autos.json'))))
      usage(`${where} needs "autos": a fitted model directory`);
    if (criterion === 'lottery' && inputs.table !== 'later' && !(inputs.table && fs.existsSync(inputs.table)))
      usage(`${where} needs "table": an existing survival.arrow`);
    getCriterion(criterion);
  });
}

/** Criterion hyperparameters keyed by criterion (`criterionOptions`): each names a criterion of the entries and only its options. */
export function checkCriterionOptions(options: Record<string, Record<string, number>> | undefined, entries: readonly string[], source: string): void {
  const named = new Set(entries.map((e) => parseEntry(e).criterion));
  for (const [name, given] of Object.entries(options ?? {})) {
    const where = `${source}: criterionOptions.${name}`;
    if (!named.has(name)) usage(`${where}: no entry uses criterion '${name}'; name one of ${[...named].join(', ')}`);
    at(where, () => resolveOptions(getCriterion(name), given));
  }
}

/** Every target's dataset and model build, its training split holds the scoring sample, and every structured entry can prune it at every level. */
export function checkTargets(
  targets: readonly Target[],
  entries: readonly string[],
  levels: readonly Level[],
  samplesPerClass: number,
  source: string,
  fieldOf: (i: number) => string,
): void {
  const scored = entries.some((e) => getCriterion(parseEntry(e).criterion).needsData);
  targets.forEach((t, i) => {
    const where = `${source}: ${fieldOf(i)}`;
    const data = at(where, () => loadDataset(t.dataset, { dataDir: t.dataDir, padTo: t.padTo }));
    if (scored) at(where, () => scoringSample(data, samplesPerClass));
    const model = at(where, () => createModel(t.model, { width: t.width, batchNorm: t.batchNorm, inputShape: data.train.shape, numClasses: data.numClasses }));
    for (const entry of entries) {
      if (!parseEntry(entry).structured) {
        for (const { density } of levels) at(`${source}: '${entry}' on ${fieldOf(i)}`, () => checkKeepsSome(model, density));
        continue;
      }
      for (const { density } of levels) at(`${source}: '${entry}' on ${fieldOf(i)} at density ${density}`, () => checkStructured(model, density));
    }
  });
}

/** A one-line input error of `f`, prefixed with where in the config it comes from and told in the config's keys, not flags. */
export function at<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof UsageError) usage(`${where}: ${inConfigTerms(err.message)}`);
    throw err;
  }
}
