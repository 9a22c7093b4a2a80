import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { usage } from '../util/errors.ts';
import { datasetsDir } from './paths.ts';

const entrySchema = z
  .object({
    name: z.string(),
    description: z.string(),
    url: z.string().nullable(),
    classes: z.number().int(),
    shape: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
    split: z.object({ train: z.number().int(), test: z.number().int() }).nullable(),
    mean: z.array(z.number()).nullable(),
    std: z.array(z.number()).nullable(),
    archive: z.object({ url: z.string().url(), md5: z.string().regex(/^[0-9a-f]{32}$/), sha256: z.string().nullable(), folder: z.string() }).optional(),
  })
  .passthrough();

export type CatalogEntry = z.infer<typeof entrySchema>;

export const catalogFile = path.join(datasetsDir, 'registry.json');

let cached: CatalogEntry[] | undefined;

/** The documented dataset list (datasets/registry.json): sources, archive checksums, expected split sizes. */
export function readCatalog(): CatalogEntry[] {
  if (cached) return cached;
  const parsed = z.object({ datasets: z.array(entrySchema) }).safeParse(JSON.parse(fs.readFileSync(catalogFile, 'utf8')));
  if (!parsed.success) usage(`${catalogFile} is malformed (${parsed.error.issues[0]?.message}); restore it from the repository`);
  cached = parsed.data.datasets;
  return cached;
}

export function catalogEntry(name: string): CatalogEntry | undefined {
  return readCatalog().find((e) => e.name === name);
}
