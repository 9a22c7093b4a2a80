#!/usr/bin/env node
// Compiles src/ to dist/ (JavaScript + type declarations) so the CLI starts without transpiling, and
// copies the assets the code reads beside itself. Run by `npm ci` (prepare) and `npm run build`.
// bin/pipeline.mjs uses dist/ only while no file under src/ is newer than dist/.stamp.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// The wasm kernels: their WebAssembly text assembled once here (with an unshared and a shared memory
// import), not at every start; src/engine/kernels/wasm/simd-kernels.ts loads the binaries.
const wasmDir = path.join(root, 'src/engine/kernels/wasm');
const { assembleWat, kernelSource } = await import('../src/engine/kernels/wasm/assemble.mjs');
fs.mkdirSync(path.join(wasmDir, 'generated'), { recursive: true });
for (const shared of [false, true]) {
  const out = path.join(wasmDir, 'generated', `kernels${shared ? '.shared' : ''}.wasm`);
  fs.writeFileSync(`${out}.tmp`, await assembleWat(kernelSource(), shared));
  fs.renameSync(`${out}.tmp`, out);
}

const final = path.join(root, 'dist');
// Built beside dist/ and swapped in at the end, so a CLI started meanwhile sees the old build or the
// new one (or none, and runs the sources), never half of one.
const dist = path.join(root, `dist.${process.pid}.tmp`);
const started = Date.now();
fs.rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json'), '--outDir', dist], {
  stdio: 'inherit',
});
let assets = 0;
(function copy(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const from = path.join(dir, e.name);
    if (e.isDirectory()) copy(from);
    else if (!e.name.endsWith('.ts')) {
      const to = path.join(dist, path.relative(path.join(root, 'src'), from));
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(from, to);
      const { atime, mtime } = fs.statSync(from);
      fs.utimesSync(to, atime, mtime); // the kernels' build must stay newer than their sources
      assets++;
    }
  }
})(path.join(root, 'src'));
fs.writeFileSync(path.join(dist, '.stamp'), `${new Date().toISOString()}\n`);
fs.rmSync(final, { recursive: true, force: true });
fs.renameSync(dist, final);
console.log(`built the wasm kernels and dist/ from src/ (${assets} assets) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
