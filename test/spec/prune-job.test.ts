import { describe, expect, it } from 'vitest';
import { pruneConfigFrom } from '../../src/cli/commands/prune.ts';
import { canonicalJson } from '../../src/io/rundir.ts';
import { MainJobSchema } from '../../src/run/config.ts';
import { mainJobPlan } from '../../src/run/main-job.ts';
import { formatEntry, parseEntry } from '../../src/spec/criterion-entry.ts';
import { planSweep } from '../../src/sweep/config.ts';
import { DEFAULT_RECIPE } from '../../src/train/config.ts';

/**
 * Job directory names (stem + config hash) as the three separate builders of sweep, run and prune made
 * them before they became one (src/spec/prune-job.ts, src/spec/plan.ts): existing run directories must keep
 * resolving. Only targets with a training preset of their own are pinned: the others now train from
 * DEFAULT_RECIPE instead of the schema's bare defaults, a new config and so a new directory. A run's autos
 * and lottery jobs read inputs inside its --out, hashed by their path inside it ($OUT/autos; relocatable
 * run directories) since 2026-12-07: those names changed once then (README, "Failures and recovery").
 */
const SWEEP_NAMES = [
  'lenet5-mnist_dense_seed0_1888db5e',
  'lenet5-mnist_dense_seed3_ee912dae',
  'lenet5-mnist_grasp-erk_d0.1_seed0_b30a9e69',
  'lenet5-mnist_grasp-erk_d0.1_seed3_5fe877ad',
  'lenet5-mnist_grasp-erk_d0.5_seed0_db111e39',
  'lenet5-mnist_grasp-erk_d0.5_seed3_d543b55f',
  'lenet5-mnist_magnitude-reconnect_d0.1_seed0_2b8ad4a3',
  'lenet5-mnist_magnitude-reconnect_d0.1_seed3_eea1fbbe',
  'lenet5-mnist_magnitude-reconnect_d0.5_seed0_70b75261',
  'lenet5-mnist_magnitude-reconnect_d0.5_seed3_161b38cd',
  'lenet5-mnist_snip_d0.1_seed0_825bed8d',
  'lenet5-mnist_snip_d0.1_seed3_0f70397f',
  'lenet5-mnist_snip_d0.5_seed0_94f692ce',
  'lenet5-mnist_snip_d0.5_seed3_6c7bff0a',
  'lenet5-mnist_structured-crop_d0.1_seed0_4ff7b811',
  'lenet5-mnist_structured-crop_d0.1_seed3_aae86570',
  'lenet5-mnist_structured-crop_d0.5_seed0_af56a120',
  'lenet5-mnist_structured-crop_d0.5_seed3_96d8e5eb',
  'lenet5-mnist_synflow-3_d0.1_seed0_46bfeae2',
  'lenet5-mnist_synflow-3_d0.1_seed3_bcbe94ec',
  'lenet5-mnist_synflow-3_d0.5_seed0_d177a945',
  'lenet5-mnist_synflow-3_d0.5_seed3_60cfefbb',
];
const RUN_NAMES = [
  'lenet300-mnist_autos-grasp-1_s0.95_seed1_61834525',
  'lenet300-mnist_autos-grasp-1_s0.9_seed1_d18792c8',
  'lenet300-mnist_autos_s0.95_seed1_f470cbf4',
  'lenet300-mnist_autos_s0.9_seed1_9cd7b68e',
  'lenet300-mnist_dense_seed1_056cf8c9',
  'lenet300-mnist_lottery_s0.95_seed1_58107f79',
  'lenet300-mnist_lottery_s0.9_seed1_4a7babcc',
  'lenet300-mnist_snip-reconnect_s0.95_seed1_26b5b5b1',
  'lenet300-mnist_snip-reconnect_s0.9_seed1_6b4d375a',
];
const ONE_TARGET_RUN_NAMES = [
  'autos_s0.9_seed0_9a210187',
  'autos_s0.9_seed1_07880d24',
  'dense_seed0_bcad3d5b',
  'dense_seed1_70b48bbe',
  'grasp_s0.9_seed0_7235de0d',
  'grasp_s0.9_seed1_9df2fc4e',
];

const sweepPlan = () =>
  planSweep(
    {
      targets: [
        { model: 'lenet5', dataset: 'mnist' },
        { model: 'vgg11', width: 8, dataset: 'mnist', padTo: 32 },
      ],
      criteria: ['snip', 'structured:crop', 'magnitude+reconnect', 'synflow#3', 'grasp@erk'],
      densities: [0.5, 0.1],
      seeds: [0, 3],
      train: { epochs: 1 },
    },
    's',
  );
const runPlan = (prune: Record<string, unknown>) => mainJobPlan(MainJobSchema.parse({ irp: { model: 'lenet5', dataset: 'mnist' }, prune }), '/fixed');

describe('one prune-job spec for sweep, run and prune', () => {
  it('keeps the directory names (and so the config hashes) of existing sweeps and runs', () => {
    expect(
      sweepPlan()
        .jobs.map((j) => j.name)
        .filter((n) => n.startsWith('lenet5-'))
        .sort(),
    ).toEqual(SWEEP_NAMES);
    const targets = [
      { model: 'lenet300', dataset: 'mnist' },
      { model: 'resnet20', width: 4, dataset: 'mnist', padTo: 32 },
    ];
    expect(
      runPlan({ targets, criteria: ['autos', 'autos@grasp#1', 'lottery', 'snip+reconnect'], sparsities: [0.9, 0.95], seeds: [1], train: { epochs: 2 } })
        .map((j) => j.name)
        .filter((n) => n.startsWith('lenet300'))
        .sort(),
    ).toEqual(RUN_NAMES);
    expect(
      runPlan({ model: 'lenet300', criteria: ['autos', 'grasp'], sparsities: [0.9], seeds: [0, 1] })
        .map((j) => j.name)
        .sort(),
    ).toEqual(ONE_TARGET_RUN_NAMES);
  });

  it('sweep, run and prune build byte-identical configs for the same entry, level, seed and budget', () => {
    const target = { model: 'lenet5', dataset: 'mnist' };
    const entries = ['snip', 'grasp@erk', 'synflow#3', 'magnitude+reconnect', 'structured:crop'];
    const sweep = planSweep({ targets: [target], criteria: entries, densities: [0.5, 0.25], seeds: [2], train: { epochs: 1 } }, 's').jobs.map((j) => j.config);
    const run = runPlan({ model: 'lenet5', criteria: entries, sparsities: [0.5, 0.75], seeds: [2], train: { epochs: 1 } }).map((j) => j.config);
    const key = (c: { criterion: string; density: number }) => `${formatEntry(c as never)} ${c.density}`;
    const bySweep = new Map(sweep.map((c) => [key(c), canonicalJson(c)]));
    expect(run.map(key).sort()).toEqual([...bySweep.keys()].sort());
    for (const c of run) expect(canonicalJson(c)).toBe(bySweep.get(key(c)));
    // prune's flags, every default spelled out, give the same job.
    for (const entry of entries) {
      const e = parseEntry(entry);
      const flags = {
        criterion: e.criterion,
        allocation: e.allocation,
        iterations: e.iterations,
        reconnect: e.reconnect,
        structured: e.structured || undefined,
        model: 'lenet5',
        dataset: 'mnist',
        density: '0.5',
        scope: 'global',
        samplesPerClass: 10,
        temperature: 200,
        seed: 2,
        train: true,
        epochs: 1,
      };
      expect(canonicalJson(pruneConfigFrom(flags as never))).toBe(bySweep.get(`${entry} 0.5`));
    }
  });

  it("criterion options give the same job config from a sweep's criterionOptions, a run's and prune's --criterion-option", () => {
    const target = { model: 'lenet5', dataset: 'mnist' };
    const options = { prospr: { steps: 5, lr: 0.2 } };
    const [sweep] = planSweep(
      { targets: [target], criteria: ['prospr'], densities: [0.5], seeds: [2], criterionOptions: options, train: { epochs: 1 } },
      's',
    ).jobs.filter((j) => j.config.density === 0.5);
    const [run] = runPlan({ model: 'lenet5', criteria: ['prospr'], sparsities: [0.5], seeds: [2], criterionOptions: options, train: { epochs: 1 } }).filter(
      (j) => j.entry !== 'dense',
    );
    const flags = {
      criterion: 'prospr',
      allocation: 'global',
      model: 'lenet5',
      dataset: 'mnist',
      density: '0.5',
      scope: 'global',
      samplesPerClass: 10,
      temperature: 200,
      seed: 2,
    };
    const pruned = pruneConfigFrom({ ...flags, train: true, epochs: 1, criterionOption: ['steps=5', 'lr=0.2'] } as never);
    expect(sweep!.config.criterionOptions).toEqual({ steps: 5, lr: 0.2 });
    expect(canonicalJson(run!.config)).toBe(canonicalJson(sweep!.config));
    expect(canonicalJson(pruned)).toBe(canonicalJson(sweep!.config));
    expect(() => pruneConfigFrom({ ...flags, criterionOption: ['steps'] } as never)).toThrow(
      /^--criterion-option must be name=number \(e\.g\. steps=5\), got 'steps'$/,
    );
    expect(() => pruneConfigFrom({ ...flags, criterionOption: ['steps=1', 'steps=2'] } as never)).toThrow(/steps is given twice/);
  });

  it('a target without a training preset trains from the default recipe, under the given keys', () => {
    const vgg = sweepPlan().jobs.find((j) => j.config.model === 'vgg11')!.config.train!;
    expect(vgg).toMatchObject({ epochs: 1, batchSize: DEFAULT_RECIPE.batchSize, optimizer: DEFAULT_RECIPE.optimizer, schedule: { type: 'cosine' } });
  });

  it('the learned allocation takes the AutoS directory whatever the criterion', () => {
    const [job] = runPlan({ model: 'lenet300', criteria: ['grasp@learned'], sparsities: [0.9], seeds: [0] }).filter((j) => j.entry !== 'dense');
    expect(job!.config.autos).toBe('/fixed/autos');
    expect(() => planSweep({ targets: [{ model: 'lenet5', dataset: 'mnist' }], criteria: ['grasp@learned'], densities: [0.1] }, 's.json')).toThrow(
      /^s\.json: criteria\[0\] 'grasp@learned' needs "autos": a fitted model directory$/,
    );
  });
});
