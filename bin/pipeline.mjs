#!/usr/bin/env node
// Runs the CLI from dist/ (built by `npm ci` / `npm run build`) when it is up to date with src/, and
// otherwise straight from the TypeScript sources through tsx, so an edited checkout never runs stale code.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function builtIsCurrent() {
  let stamp;
  try {
    stamp = fs.statSync(path.join(root, 'dist/.stamp')).mtimeMs;
  } catch {
    return false;
  }
  const newer = (dir) =>
    fs.readdirSync(dir, { withFileTypes: true }).some((e) => {
      const p = path.join(dir, e.name);
      return e.isDirectory() ? newer(p) : fs.statSync(p).mtimeMs > stamp;
    });
  const src = path.join(root, 'src');
  return !fs.existsSync(src) || !newer(src); // an installed package ships dist/ without src/
}

let main;
if (builtIsCurrent()) ({ main } = await import('../dist/cli/main.js'));
else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
process.exitCode = await main(process.argv);
// Backstop: the engine releases its threads and GPU device, but nothing that was left running by
// mistake may keep a finished command alive (the timer itself does not hold the process).
setTimeout(() => process.exit(), 3000).unref();
