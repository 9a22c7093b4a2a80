import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CRITERIA } from '../../src/scoring/criteria/index.ts';
import { CRITERION_NAMES } from '../../src/scoring/criteria/names.ts';
import { staticClosure } from '../../scripts/static-imports.mjs';

const root = path.resolve(import.meta.dirname, '../..');

describe('CLI start-up', () => {
  it('parsing flags and printing help loads no engine, plots or Arrow (they load inside the commands)', () => {
    const { packages } = staticClosure(path.join(root, 'src/cli/main.ts'));
    expect([...packages.keys()].sort()).toEqual(['commander', 'zod']);
  });

  it('a computing stage does load them (the check sees through the imports)', () => {
    const { packages } = staticClosure(path.join(root, 'src/prune/run.ts'));
    expect([...packages.keys()]).toEqual(expect.arrayContaining(['@tensorflow/tfjs', 'apache-arrow']));
  });

  it("help's criterion names are the registry's", () => {
    expect(Object.keys(CRITERIA)).toEqual([...CRITERION_NAMES]);
  });
});
