// Writes docs/cli.md from the commands' own --help (npm run docs:cli).
import fs from 'node:fs';
import path from 'node:path';
import { cliReference } from '../src/cli/reference.ts';

const file = path.resolve(import.meta.dirname, '../docs/cli.md');
fs.writeFileSync(file, cliReference());
console.log(`wrote ${path.relative(process.cwd(), file)}`);
