#!/usr/bin/env node
// Lists the packages a module loads before running anything (static imports only, followed through
// dist/ or src/): `node scripts/static-imports.mjs src/cli/main.ts`. The CLI's help must not load
// the engine, plots or Arrow.
import fs from 'node:fs';
import path from 'node:path';

/** `import type …`, or braces naming only `type X` (TypeScript drops both from its output). */
function typeOnly(statement) {
  const s = statement.trim();
  if (/^(import|export)\s+type\b/.test(s)) return true;
  const names = /\{([^}]*)\}/.exec(s);
  return (
    Boolean(names) &&
    !/^(import|export)\s+[\w$]+\s*,/.test(s) &&
    names[1]
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean)
      .every((n) => n.startsWith('type '))
  );
}

/** The modules and packages `entry` (a built .js or a source .ts file) loads through static imports. */
export function staticClosure(entry) {
  const seen = new Set();
  const packages = new Map();
  const visit = (file, from) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm)) {
      const spec = m[1] ?? m[2];
      if (typeOnly(m[0])) continue;
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec), file);
      else if (!spec.startsWith('node:')) {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        if (!packages.has(name)) packages.set(name, path.relative(process.cwd(), file));
      }
    }
  };
  visit(path.resolve(entry));
  return { modules: seen.size, packages };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { modules, packages } = staticClosure(process.argv[2] ?? 'dist/cli/main.js');
  console.log(`${modules} modules`);
  for (const [p, via] of packages) console.log(`${p}  (first from ${via})`);
}
