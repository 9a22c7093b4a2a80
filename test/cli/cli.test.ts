import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const bin = path.resolve(import.meta.dirname, '../../bin/pipeline.mjs');
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, PIPELINE_QUIET: '1' } });

describe('pipeline CLI', () => {
  it('--help lists the commands', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    for (const cmd of ['bench', 'data']) expect(r.stdout).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'));
  });

  it('bench prints one JSON line with the reference keys and the backend', () => {
    const r = run('bench', '--model', 'lenet300', '--batch', '8', '--repeat', '1', '--backend', 'wasm');
    expect(r.status, r.stderr).toBe(0);
    const line = JSON.parse(r.stdout.trim());
    for (const key of ['model', 'width', 'batch', 'threads', 'prunable', 'forward_ms', 'train_step_ms', 'grasp_hg_ms', 'backend']) {
      expect(line).toHaveProperty(key);
    }
    expect(line.backend).toBe('wasm');
    expect(line.prunable).toBe(266_200);
  });

  for (const [args, pattern] of [
    [['bench', '--model', 'resnet50'], /unknown model 'resnet50'/],
    [['bench', '--backend', 'tpu'], /unknown backend 'tpu'/],
    [['bench', '--width', '-3'], /--width must be a positive number/],
    [['bench', '--model', 'resnet18', '--width', '1.5'], /invalid width/],
  ] as const) {
    it(`bad input '${args.join(' ')}' gives one line and exit code 2`, () => {
      const r = run(...args);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    });
  }

  it('asking for a native backend that is not installed says how to get it', () => {
    const r = run('bench', '--model', 'lenet300', '--backend', 'tensorflow');
    if (r.status === 0) {
      // tfjs-node is installed on this machine (online install): then it must have been used.
      expect(JSON.parse(r.stdout).backend).toBe('tensorflow');
    } else {
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/npm install @tensorflow\/tfjs-node/);
    }
  });
});
