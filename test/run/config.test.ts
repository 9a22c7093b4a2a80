import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMainJob, sourcesOf, targetsOf } from '../../src/run/config.ts';
import { sourceDirs, validateMainJob } from '../../src/run/main-job.ts';
import { parseEntry as splitCriterion } from '../../src/spec/criterion-entry.ts';
import { readPreset } from '../../src/train/config.ts';

const pipelines = path.resolve(import.meta.dirname, '../../pipelines');
const source = (model: string, extra: Record<string, unknown> = {}) => ({ model, dataset: 'mnist', rounds: 2, ...extra });
const prune = { criteria: ['autos@snip', 'snip'], sparsities: [0.9], seeds: [0, 1, 2] };

/** The one-line message a bad config is refused with. */
const refusal = (input: unknown) => {
  try {
    const c = parseMainJob(input, 'x.json');
    validateMainJob(c, 'x.json');
  } catch (err) {
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('accepted');
};

describe('pipeline run config: sources and targets', () => {
  it('one irp and one target (pipelines/default.json): stage 1 in <out>/irp, one target', () => {
    const c = parseMainJob(readPreset(path.join(pipelines, 'default.json')), 'default.json');
    validateMainJob(c, 'default.json');
    expect(sourcesOf(c).map((s) => s.model)).toEqual(['lenet300']);
    expect(targetsOf(c)).toEqual([{ model: 'lenet5', width: undefined, batchNorm: undefined, dataset: 'mnist', padTo: undefined }]);
    expect(sourceDirs(c, 'out')).toEqual([path.join('out', 'irp')]);
  });

  it('several sources and targets: each source in its own hashed directory, targets with padTo/batchNorm', () => {
    const c = parseMainJob(
      {
        sources: [source('lenet300'), source('lenet5', { batchNorm: true })],
        prune: {
          ...prune,
          targets: [
            { model: 'vgg11', width: 8, batchNorm: true, dataset: 'mnist', padTo: 32 },
            { model: 'vgg16', width: 8, padTo: 32 },
          ],
        },
      },
      'x.json',
    );
    validateMainJob(c, 'x.json');
    expect(sourcesOf(c).map((s) => [s.model, s.batchNorm])).toEqual([
      ['lenet300', undefined],
      ['lenet5', true],
    ]);
    expect(targetsOf(c).map((t) => [t.model, t.width, t.dataset, t.padTo])).toEqual([
      ['vgg11', 8, 'mnist', 32],
      ['vgg16', 8, 'mnist', 32],
    ]);
    const dirs = sourceDirs(c, 'out').map((d) => path.relative('out', d));
    expect(dirs[0]).toMatch(/^irp\/lenet300-mnist_[0-9a-f]{8}$/);
    expect(dirs[1]).toMatch(/^irp\/lenet5-mnist_[0-9a-f]{8}$/);
  });

  it('a target whose architecture is a source is refused in one line, unless allowSeenTargets', () => {
    const seen = {
      sources: [source('lenet300'), source('lenet5')],
      prune: { ...prune, targets: [{ model: 'vgg11', width: 8, padTo: 32 }, { model: 'lenet5' }] },
    };
    expect(refusal(seen)).toBe(
      `x.json: prune.targets[1] 'lenet5' is also a source architecture, so evaluating on it is not transfer; drop it or set "allowSeenTargets": true`,
    );
    expect(refusal({ irp: source('lenet5'), prune: { ...prune, model: 'lenet5' } })).toMatch(/^x\.json: prune 'lenet5' is also a source architecture/);
    expect(() => validateMainJob(parseMainJob({ ...seen, allowSeenTargets: true }, 'x.json'), 'x.json')).not.toThrow();
  });

  it('bad input is one line naming what is wrong', () => {
    const targets = [{ model: 'vgg11', width: 8, padTo: 32 }];
    expect(refusal({ irp: source('lenet300'), sources: [source('lenet5')], prune: { ...prune, targets } })).toMatch(
      /give either "irp" .* or "sources" .*, not both/,
    );
    expect(refusal({ prune: { ...prune, targets } })).toMatch(/give either "irp" .* or "sources" .*, one of them/);
    expect(refusal({ sources: [], prune: { ...prune, targets } })).toMatch(/^x\.json: invalid value at 'sources'/);
    expect(refusal({ irp: source('lenet300'), prune: { ...prune, model: 'lenet5', targets } })).toMatch(/prune has "targets" and a single target's/);
    expect(refusal({ irp: source('lenet300'), prune })).toMatch(/prune needs "model" \(one target\) or "targets"/);
    expect(refusal({ irp: source('lenet300'), prune: { ...prune, targets: [{ model: 'vgg11', depth: 3 }] } })).toMatch(
      /^x\.json: unknown key\(s\) 'depth' at prune\.targets\.0/,
    );
    expect(refusal({ sources: [source('lenet300'), source('lenet300')], prune: { ...prune, targets } })).toBe(
      'x.json: sources[1] repeats sources[0]; list each IRP source once',
    );
    expect(refusal({ irp: source('lenet300'), prune: { ...prune, targets: [...targets, { model: 'vgg11', width: 8, batchNorm: false, padTo: 32 }] } })).toMatch(
      /prune\.targets\[1\] \(vgg11-w8\/mnist\) repeats prune\.targets\[0\]'s model, width and dataset/,
    );
    expect(refusal({ irp: source('lenet300'), prune: { ...prune, targets: [{ model: 'vgg11', dataset: 'nosuch' }] } })).toMatch(
      /^x\.json: prune\.targets\[0\]: unknown dataset "nosuch"/,
    );
    expect(refusal({ irp: source('lenet300'), prune: { ...prune, targets: [{ model: 'vgg11', width: 8 }] } })).toMatch(
      /^x\.json: prune\.targets\[0\]: vgg11 needs inputs of at least 32×32, got 28×28/,
    );
    expect(refusal({ sources: [source('lenet5', { rewind: 'epoch:5', epochsPerRound: 2 })], prune: { ...prune, targets } })).toMatch(
      /^x\.json: sources\[0\]: rewind epoch 5 is beyond/,
    );
    expect(refusal({ irp: source('lenet300'), prune: { ...prune, targets, train: { padTo: 32 } } })).toMatch(/unknown key\(s\) 'padTo' at prune\.train/);
    expect(refusal({ irp: source('lenet300'), prune: { ...prune, targets, criteria: ['snip', 'grasp', 'snip'] } })).toBe(
      'x.json: prune.criteria[2] repeats prune.criteria[0] ("snip"); list each once',
    );
    expect(refusal({ irp: source('lenet300'), prune: { ...prune, targets, seeds: [0, 0] } })).toMatch(/prune\.seeds\[1\] repeats prune\.seeds\[0\]/);
  });

  it('the transfer, teacher, ablation and held-out presets parse and validate; only held-out ones name a reserved evaluation target', () => {
    const files = fs.readdirSync(pipelines).filter((f) => /^(transfer|teacher|ablation|heldout)-.*\.json$/.test(f));
    expect(files).toEqual(expect.arrayContaining(['transfer-conv.json', 'transfer-residual.json', 'teacher-resnet18.json', 'heldout-reserved.json']));
    expect(files.filter((f) => f.startsWith('ablation-')).length).toBeGreaterThanOrEqual(5);
    // Reserved for an independent evaluation of AutoS transfer: never a source, never a target outside heldout-*.
    const reserved = (t: { model: string; dataset?: string }) => /^(resnet32|vgg19)$/.test(t.model) || /fashion/.test(t.dataset ?? '');
    for (const f of files) {
      const text = fs.readFileSync(path.join(pipelines, f), 'utf8');
      const c = parseMainJob(JSON.parse(text), f);
      validateMainJob(c, f);
      expect(c.prune.seeds.length, f).toBeGreaterThanOrEqual(3);
      for (const s of sourcesOf(c)) expect(reserved(s), `${f}: source ${s.model}/${s.dataset}`).toBe(false);
      for (const t of targetsOf(c)) if (!f.startsWith('heldout-')) expect(reserved(t), `${f}: target ${t.model}/${t.dataset}`).toBe(false);
    }
    const held = parseMainJob(JSON.parse(fs.readFileSync(path.join(pipelines, 'heldout-reserved.json'), 'utf8')), 'heldout-reserved.json');
    expect(targetsOf(held).every(reserved)).toBe(true);
  });

  it("an entry without @ takes the criterion's default allocation: synflow's counts for autos, one global threshold otherwise", () => {
    // autos's rounds go into its job configs (a tuned recipe: a new default must not reuse old job
    // directories); the handcrafted criteria's job configs, and so their hashes, stay as they were.
    expect(splitCriterion('autos')).toEqual({ criterion: 'autos', allocation: 'synflow', structured: false, iterations: 10 });
    expect(splitCriterion('autos@snip')).toEqual({ criterion: 'autos', allocation: 'snip', structured: false, iterations: 10 });
    expect(splitCriterion('grasp')).toEqual({ criterion: 'grasp', allocation: 'global', structured: false });
    expect(splitCriterion('synflow')).toEqual({ criterion: 'synflow', allocation: 'global', structured: false });
    // '#k' sets the rounds: one-shot autos, or any criterion's own count.
    expect(splitCriterion('autos@synflow#1')).toEqual({ criterion: 'autos', allocation: 'synflow', structured: false, iterations: 1 });
    expect(splitCriterion('autos#3')).toEqual({ criterion: 'autos', allocation: 'synflow', structured: false, iterations: 3 });
    expect(splitCriterion('structured:crop#2')).toEqual({ criterion: 'crop', allocation: 'global', structured: true, iterations: 2 });
    for (const bad of ['autos#0', 'autos#x', 'autos#', 'autos#1#2', 'snip#1.5'])
      expect(() => splitCriterion(bad)).toThrow(/rounds after # must be a positive integer/);
    expect(splitCriterion('autos@learned').allocation).toBe('learned');
    expect(splitCriterion('autos@global').allocation).toBe('global');
    expect(splitCriterion('structured:crop')).toEqual({ criterion: 'crop', allocation: 'global', structured: true });
    expect(splitCriterion('nonsense').allocation).toBe('global');
  });

  it("'+reconnect' ends an entry; without it the job config has no key (plain entries keep their job directories)", () => {
    expect(splitCriterion('snip+reconnect')).toEqual({ criterion: 'snip', allocation: 'global', structured: false, reconnect: true });
    expect(splitCriterion('autos@snip#1+reconnect')).toMatchObject({ criterion: 'autos', allocation: 'snip', iterations: 1, reconnect: true });
    expect(splitCriterion('snip')).not.toHaveProperty('reconnect');
    for (const bad of ['snip+', 'snip+connect', 'snip+no-reconnect', 'snip+reconnect+reconnect', 'structured:crop+reconnect']) {
      expect(() => splitCriterion(bad), bad).toThrow(/only '\+reconnect' may end an entry/);
    }
  });
});
