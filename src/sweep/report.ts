import fs from 'node:fs';
import path from 'node:path';
import { isFinished } from '../io/rundir.ts';
import type { PruneConfig } from '../prune/config.ts';
import { writePaired } from '../report/paired.ts';
import { type JobResult, jobResult, type ResultRow, writeResults } from '../report/results.ts';
import { usage } from '../util/errors.ts';

/** The job names of the sweep's current plan (`sweep.json`), or undefined without one; a plan that cannot be read is refused. */
export function readPlan(out: string): Set<string> | undefined {
  const planFile = path.join(out, 'sweep.json');
  if (!fs.existsSync(planFile)) return undefined;
  const refuse = (why: string) => usage(`${planFile} ${why}; rerun 'pipeline sweep <config> --out ${out}' to rewrite it (results were left as they are)`);
  let plan: unknown;
  try {
    plan = JSON.parse(fs.readFileSync(planFile, 'utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) refuse('is not valid JSON');
    throw err;
  }
  const jobs = (plan as { jobs?: unknown } | null)?.jobs;
  if (!Array.isArray(jobs) || jobs.some((j) => typeof j !== 'string')) refuse("has no 'jobs' list of job names");
  return new Set(jobs as string[]);
}

export interface SweepResults {
  results: JobResult[];
  /** Jobs the plan names that have no finished directory (not run yet, failed, or deleted). */
  missing: string[];
}

/**
 * The finished jobs the sweep's current plan names (`sweep.json`), in directory order, and the named
 * jobs that have no result. Jobs a changed config no longer names stay on disk and are left out.
 */
export function collectResults(out: string): SweepResults {
  const jobsDir = path.join(out, 'jobs');
  if (!fs.existsSync(jobsDir)) usage(`${out} holds no sweep (no jobs/ directory); run 'pipeline sweep' first`);
  const planned = readPlan(out);
  const results: JobResult[] = [];
  const finished = new Set<string>();
  for (const name of fs.readdirSync(jobsDir).sort()) {
    const dir = path.join(jobsDir, name);
    if ((planned && !planned.has(name)) || !isFinished(dir)) continue;
    let config: PruneConfig;
    try {
      config = (JSON.parse(fs.readFileSync(path.join(dir, 'job.json'), 'utf8')) as { config: PruneConfig }).config;
    } catch {
      usage(`${path.join(dir, 'job.json')} is missing or not valid JSON; delete ${path.join(dir, 'DONE')} and rerun the sweep to redo that job`);
    }
    results.push(jobResult(dir, config));
    finished.add(name);
  }
  return { results, missing: planned ? [...planned].filter((n) => !finished.has(n)) : [] };
}

/**
 * results.csv / results.arrow (one row per job), results.md (per target and budget, then the paired
 * autos − handcrafted section), paired.csv and the SVG plots, from every finished job the plan names;
 * returns the rows and the named jobs that have no result.
 */
export async function writeSweepReport(out: string): Promise<{ rows: ResultRow[]; missing: string[] }> {
  const { results, missing } = collectResults(out);
  const rows = await writeResults(out, results, {
    slug: (g) => g.target.replace(/[^a-z0-9-]+/gi, '_'),
    title: (g) => `${g.target}: ${g.epochs === null ? 'gradient-norm ratio' : 'test accuracy'} after pruning at initialization`,
    appendMarkdown: (rows) => writePaired(out, rows),
  });
  return { rows, missing };
}
