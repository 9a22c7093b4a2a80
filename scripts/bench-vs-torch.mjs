#!/usr/bin/env node
// Runs `pipeline bench` and the PyTorch CPU reference (scripts/gpu/torch_reference.py) at the same
// thread counts, interleaved in one run on one machine, and prints every line plus one ratio line per
// thread count (tfjs ms ÷ PyTorch ms; speedup over the first thread count for both engines), each
// metric taken as its lowest median over --rounds (the round least disturbed by other load).
//   node scripts/bench-vs-torch.mjs --model resnet18 --width 16 --batch 32 --threads 1,2 [--repeat 5] [--rounds 2]
// PyTorch: Debian's python3-torch, called as /usr/bin/python3 (PIPELINE_PYTHON overrides it).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(import.meta.dirname, '..');
const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet18' },
    width: { type: 'string', default: '64' },
    batch: { type: 'string', default: '32' },
    threads: { type: 'string', default: '1,2' },
    repeat: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '1' },
  },
});
const python = process.env.PIPELINE_PYTHON ?? '/usr/bin/python3';
const counts = a.threads.split(',').map(Number);
const common = ['--model', a.model, '--width', a.width, '--batch', a.batch, '--repeat', a.repeat];

function jsonLine(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', env: { ...process.env, PIPELINE_QUIET: '1' } });
  if (r.status !== 0) {
    process.stderr.write(`bench-vs-torch: ${cmd} ${args.join(' ')} failed (exit ${r.status}): ${r.stderr.trim().split('\n').at(-1)}\n`);
    process.exit(1);
  }
  const line = r.stdout.trim().split('\n').at(-1);
  process.stdout.write(`${line}\n`);
  return JSON.parse(line);
}

const KEYS = ['forward_ms', 'train_step_ms', 'grasp_hg_ms'];
// "engine:threads" → per metric, the lowest median over rounds (the one least disturbed by other load)
const best = new Map();
const keep = (key, line) => {
  const old = best.get(key);
  if (!old) return best.set(key, { ...line });
  for (const k of KEYS) old[k] = Math.min(old[k], line[k]);
};
for (let round = 0; round < Number(a.rounds); round++) {
  for (const n of counts) {
    keep(`tfjs:${n}`, jsonLine(process.execPath, [path.join(root, 'bin/pipeline.mjs'), '--backend', 'wasm', '--threads', String(n), 'bench', ...common]));
    keep(
      `torch:${n}`,
      jsonLine(python, [path.join(root, 'scripts/gpu/torch_reference.py'), '--device', 'cpu', '--hg-images', '0', ...common, '--threads', String(n)]),
    );
  }
}
const r2 = (x) => Math.round(x * 100) / 100;
for (const n of counts) {
  const ours = best.get(`tfjs:${n}`);
  const ref = best.get(`torch:${n}`);
  const ours1 = best.get(`tfjs:${counts[0]}`);
  const ref1 = best.get(`torch:${counts[0]}`);
  const line = { kind: 'ratio', model: a.model, width: Number(a.width), batch: Number(a.batch), threads: ours.threads, torch_threads: ref.threads };
  for (const k of KEYS) {
    const name = k.replace(/_ms$/, '');
    line[`${name}_vs_torch`] = r2(ours[k] / ref[k]);
    line[`${name}_speedup`] = r2(ours1[k] / ours[k]);
    line[`${name}_torch_speedup`] = r2(ref1[k] / ref[k]);
  }
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
