import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { usage } from '../util/errors.ts';
import { parseJsonText } from '../util/json-text.ts';
import type { PruneReport } from './config.ts';

const fraction = z.number().min(0).max(1);
const count = z.number().int().nonnegative();

/** What the results tables and paired statistics read from a job's report.json, with its types and ranges. */
const ReportFileSchema = z
  .object({
    criterion: z.string(),
    model: z.string(),
    dataset: z.string(),
    density: fraction,
    seed: z.number().int(),
    test_accuracy: fraction.optional(),
    test_loss: z.number().optional(),
    effective_density: fraction.optional(),
    grad_norm_ratio: z.number().nullable(),
    min_layer_kept: count.optional(),
    layers: z.array(z.object({ name: z.string(), size: count, kept: count, density: fraction }).passthrough()),
    seconds: z.object({ score: z.number(), grad_norm: z.number(), train: z.number().optional() }).passthrough(),
  })
  .passthrough();

/**
 * A finished prune job's report.json, checked: a file that is not JSON, or a value of the wrong type or
 * range (a test_accuracy of "0.9" or 90), is refused in one line naming the file and the key, before any
 * table is written from it.
 */
export function readPruneReport(dir: string): PruneReport {
  const file = path.join(dir, 'report.json');
  const redo = `delete ${path.join(dir, 'DONE')} and rerun to redo that job`;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    usage(`${file} ${e.code === 'ENOENT' ? 'is missing' : `cannot be read (${e.code ?? e.message})`}; ${redo}`);
  }
  const value = parseJsonText(text, file, redo);
  const r = ReportFileSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    usage(`${file}: '${issue.path.join('.') || '(top level)'}' ${issue.message.toLowerCase()}; ${redo}`);
  }
  return r.data as unknown as PruneReport;
}
