import fs from 'node:fs';
import path from 'node:path';
import { isFinished } from '../io/rundir.ts';
import type { PruneConfig } from '../prune/config.ts';
import { writePaired } from '../report/paired.ts';
import { type JobResult, jobResult, type ResultRow, writeResults } from '../report/results.ts';
import { usage } from '../util/errors.ts';

/**
 * The finished jobs the sweep's current plan names (`sweep.json`), in directory order. Jobs a
 * changed config no longer names stay on disk and are left out.
 */
export function collectResults(out: string): JobResult[] {
  const jobsDir = path.join(out, 'jobs');
  if (!fs.existsSync(jobsDir)) usage(`${out} holds no sweep (no jobs/ directory); run 'pipeline sweep' first`);
  const planFile = path.join(out, 'sweep.json');
  const planned = fs.existsSync(planFile) ? new Set((JSON.parse(fs.readFileSync(planFile, 'utf8')) as { jobs: string[] }).jobs) : undefined;
  const results: JobResult[] = [];
  for (const name of fs.readdirSync(jobsDir).sort()) {
    const dir = path.join(jobsDir, name);
    if ((planned && !planned.has(name)) || !isFinished(dir)) continue;
    const { config } = JSON.parse(fs.readFileSync(path.join(dir, 'job.json'), 'utf8')) as { config: PruneConfig };
    results.push(jobResult(dir, config));
  }
  return results;
}

/** results.csv / results.arrow (one row per job), results.md (per target and budget, then the paired autos − handcrafted section), paired.csv and the SVG plots. */
export async function writeSweepReport(out: string): Promise<ResultRow[]> {
  return writeResults(out, collectResults(out), {
    slug: (g) => g.target.replace(/[^a-z0-9-]+/gi, '_'),
    title: (g) => `${g.target}: ${g.epochs === null ? 'gradient-norm ratio' : 'test accuracy'} after pruning at initialization`,
    appendMarkdown: (rows) => writePaired(out, rows),
  });
}
