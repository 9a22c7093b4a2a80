import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { layerViolations } from '../../scripts/check-layers.mjs';

const write = (root: string, file: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  fs.writeFileSync(path.join(root, file), text);
};

describe('the layer check over the import graph', () => {
  it('src/ imports only downward', () => {
    expect(layerViolations(path.resolve(import.meta.dirname, '../../src'))).toEqual([]);
  });

  it('names each import that climbs a layer, crosses between stages, or leaves the known layers', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'layers-'));
    write(root, 'scoring/select.ts', "import { x } from '../prune/config.ts';\nimport { y } from '../util/errors.ts';\n");
    write(root, 'irp/run.ts', "import {\n  fit,\n} from '../autos/fit.ts';\nimport { s } from '../scoring/select.ts';\n");
    write(root, 'run/main.ts', "import { j } from '../sweep/jobs.ts';\nconst m = await import('../cli/main.ts');\n");
    write(root, 'extra/thing.ts', "import { u } from '../util/errors.ts';\n");
    const found = layerViolations(root)
      .map((l: string) => l.replace(/^.*layers-[^/]+\//, ''))
      .sort();
    expect(found).toEqual([
      "extra/thing.ts: imports '../util/errors.ts' (src/extra/ is in no layer: add it to scripts/check-layers.mjs)",
      "irp/run.ts: imports '../autos/fit.ts' (stages never import one another: move what both need down to scoring/ or lower)",
      "run/main.ts: imports '../cli/main.ts' (cli/ is above run/)",
      "scoring/select.ts: imports '../prune/config.ts' (prune/ is above scoring/)",
    ]);
  });
});
