import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliReference } from '../../src/cli/reference.ts';

describe('docs/cli.md', () => {
  it("is every command's --help as the CLI prints it now (regenerate: npm run docs:cli)", () => {
    const doc = fs.readFileSync(path.resolve(import.meta.dirname, '../../docs/cli.md'), 'utf8');
    const now = cliReference();
    expect(now).toContain('## pipeline prune\n');
    expect(now).toContain('--criterion <name>');
    expect(doc).toBe(now);
  });
});
