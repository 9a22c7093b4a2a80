import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const run = (cmd: string, args: string[], cwd: string) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/**
 * The package as another project gets it: `npm pack` (which builds dist/ first, through prepare), the
 * tarball unpacked as node_modules/pipeline of a scratch project (its dependencies linked from this
 * checkout's node_modules), then imported by its name and type-checked against its declarations.
 */
describe('the packed library', () => {
  it('imports by name, runs, and type-checks in a scratch project', () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-pack-'));
    // Packed from a copy of the tracked files, so building its dist/ cannot disturb this checkout's.
    const copy = path.join(scratch, 'checkout');
    for (const f of run('git', ['ls-files', '-co', '--exclude-standard'], root).split('\n').filter(Boolean)) {
      if (!fs.existsSync(path.join(root, f))) continue;
      fs.mkdirSync(path.dirname(path.join(copy, f)), { recursive: true });
      fs.copyFileSync(path.join(root, f), path.join(copy, f));
    }
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'));
    const tgz = run('npm', ['pack', '--silent', '--pack-destination', scratch], copy).trim().split('\n').at(-1)!;
    const modules = path.join(scratch, 'node_modules');
    fs.mkdirSync(path.join(modules, 'pipeline'), { recursive: true });
    run('tar', ['-xzf', path.join(scratch, tgz), '-C', path.join(modules, 'pipeline'), '--strip-components', '1'], scratch);
    expect(fs.existsSync(path.join(modules, 'pipeline/src'))).toBe(false);
    for (const dep of fs.readdirSync(path.join(root, 'node_modules'))) {
      if (dep !== '.bin' && dep !== 'pipeline') fs.symlinkSync(path.join(root, 'node_modules', dep), path.join(modules, dep));
    }
    fs.writeFileSync(path.join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', type: 'module', private: true }));
    fs.writeFileSync(
      path.join(scratch, 'use.ts'),
      [
        "import { createModel, getCriterion, MODEL_NAMES, parameterCount, parseIrpConfig, type IrpConfig } from 'pipeline';",
        "const config: IrpConfig = parseIrpConfig({ model: 'lenet300', dataset: 'mnist', rounds: 2 }, 'scratch');",
        "const n: number = parameterCount(createModel('lenet300'));",
        "console.log(JSON.stringify({ n, criterion: getCriterion('grasp').name, models: MODEL_NAMES.length, rounds: config.rounds }));",
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
        },
        files: ['use.ts'],
      }),
    );
    run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], scratch);
    fs.writeFileSync(
      path.join(scratch, 'use.mjs'),
      fs
        .readFileSync(path.join(scratch, 'use.ts'), 'utf8')
        .replace(', type IrpConfig', '')
        .replace('const config: IrpConfig', 'const config')
        .replace('const n: number', 'const n'),
    );
    const out = JSON.parse(run(process.execPath, ['use.mjs'], scratch).trim().split('\n').at(-1)!);
    expect(out).toEqual({ n: 266_610, criterion: 'grasp', models: 8, rounds: 2 });
    // The installed CLI runs from the package's dist/.
    expect(run(process.execPath, [path.join(modules, 'pipeline/bin/pipeline.mjs'), '--help'], scratch)).toMatch(/^Usage: pipeline/);
  }, 120_000);
});
