#!/usr/bin/env node
// The layer order of src/: a file may import from its own directory, from any lower layer, and from
// another directory of its own layer, except that the stages (irp, autos, prune, bench) never import
// one another. Prints one line per import that climbs or crosses, exits 1 if there is any.
import fs from 'node:fs';
import path from 'node:path';

export const LAYERS = [
  ['cli'],
  ['run', 'sweep'],
  ['report'],
  ['spec'],
  ['irp', 'autos', 'prune', 'bench'],
  ['scoring'],
  ['train', 'masks', 'models'],
  ['engine', 'data', 'io'],
  ['util'],
];
const STAGES = new Set(LAYERS[4]);
const layerOf = new Map(LAYERS.flatMap((dirs, i) => dirs.map((d) => [d, i])));

function* tsFiles(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* tsFiles(p);
    else if (/\.(ts|mts|mjs)$/.test(e.name)) yield p;
  }
}

/** Every violation under `srcDir`, as `file: imports 'spec' (why)`. */
export function layerViolations(srcDir) {
  const out = [];
  for (const file of tsFiles(srcDir)) {
    const parts = path.relative(srcDir, file).split(path.sep);
    if (parts.length === 1) continue; // src/index.ts: the library's entry, above every layer
    const from = parts[0];
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) {
      const spec = m[1] ?? m[2];
      const target = path.relative(srcDir, path.resolve(path.dirname(file), spec)).split(path.sep);
      const to = target[0];
      if (to === from || to === '..' || target.length < 2) continue;
      const a = layerOf.get(from);
      const b = layerOf.get(to);
      const where = `${path.relative(process.cwd(), file)}: imports '${spec}'`;
      if (a === undefined) out.push(`${where} (src/${from}/ is in no layer: add it to scripts/check-layers.mjs)`);
      else if (b === undefined) out.push(`${where} (src/${to}/ is in no layer: add it to scripts/check-layers.mjs)`);
      else if (b < a) out.push(`${where} (${to}/ is above ${from}/)`);
      else if (b === a && STAGES.has(from)) out.push(`${where} (stages never import one another: move what both need down to scoring/ or lower)`);
    }
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const src = path.resolve(process.argv[2] ?? 'src');
  const bad = layerViolations(src);
  for (const line of bad) console.error(line);
  if (bad.length) process.exit(1);
  console.log(`layers: ${src} imports only downward (${LAYERS.map((l) => l.join(' ')).join(' > ')})`);
}
