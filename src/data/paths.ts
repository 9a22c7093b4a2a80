import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The repository root, found from this file's location so that the cwd does not matter. */
export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

export const datasetsDir = path.join(projectRoot, 'datasets');

/** Where `pipeline data fetch <name>` unpacks an archive by default. */
export function defaultCacheDir(name: string): string {
  return path.join(datasetsDir, 'cache', name);
}
