#!/usr/bin/env node
// Renders SVG plots to PNG beside them (e.g. `node scripts/svg-to-png.mjs runs/main/*.svg`), with the
// renderer the tests use (@resvg/resvg-js, a devDependency) and the system's fonts, at 2× scale.
import fs from 'node:fs';
import { Resvg } from '@resvg/resvg-js';

const files = process.argv.slice(2);
if (!files.length) {
  process.stderr.write('usage: node scripts/svg-to-png.mjs <file.svg>...\n');
  process.exit(2);
}
for (const file of files) {
  const png = new Resvg(fs.readFileSync(file, 'utf8'), { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } })
    .render()
    .asPng();
  const out = file.replace(/\.svg$/, '') + '.png';
  fs.writeFileSync(`${out}.tmp`, png);
  fs.renameSync(`${out}.tmp`, out);
  process.stdout.write(`${out}\n`);
}
