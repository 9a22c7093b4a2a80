import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FitConfigSchema } from '../../src/autos/fit-config-schema.ts';
import { fitAutos } from '../../src/autos/fit.ts';
import { pruneConfigFrom } from '../../src/cli/commands/prune.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { checkPruneConfig, PruneConfigSchema } from '../../src/prune/config-schema.ts';
import type { PruneConfig } from '../../src/prune/config.ts';
import { runPrune } from '../../src/prune/run.ts';
import { MainJobSchema } from '../../src/run/config.ts';
import { mainJobPlan } from '../../src/run/main-job.ts';
import { flagOf } from '../../src/spec/flag-keys.ts';
import { planSweep } from '../../src/sweep/config.ts';
import { DEFAULT_FEATURES } from '../../src/scoring/autos/features.ts';

const sweepConfigs = () =>
  planSweep(
    {
      targets: [{ model: 'lenet5', dataset: 'mnist' }],
      criteria: ['snip', 'structured:crop', 'magnitude+reconnect', 'synflow#3', 'grasp@erk', 'prospr'],
      criterionOptions: { prospr: { steps: 2 } },
      densities: [0.5],
      seeds: [0],
      train: { epochs: 1 },
    },
    's',
  ).jobs.map((j) => j.config);

const valid: PruneConfig = { ...sweepConfigs()[1]!, train: undefined };
const byCriterion = (name: string) => sweepConfigs().find((c) => c.criterion === name)!;
const plain: PruneConfig = { ...byCriterion('snip'), train: undefined };
const oneEpoch = byCriterion('snip').train!;
const structured: PruneConfig = { ...byCriterion('crop'), train: undefined };

/** The one line checkPruneConfig gives `c`, in key terms (a JSON config) or flag terms (the CLI); a failure when it passes. */
function refusal(c: Partial<PruneConfig>, terms: 'keys' | 'flags'): string {
  try {
    if (terms === 'keys') checkPruneConfig({ ...plain, ...c }, 'prune config');
    else checkPruneConfig({ ...plain, ...c }, '', flagOf);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(c)}`);
}

describe('the prune and fit configs as values: types, ranges and keys checked by schema, named by key', () => {
  it("every config the CLI, a sweep and a run build passes (the schema refuses none of the planners' jobs)", () => {
    const run = mainJobPlan(
      MainJobSchema.parse({
        irp: { model: 'lenet5', dataset: 'mnist' },
        prune: { model: 'lenet5', criteria: ['autos', 'lottery', 'grasp'], sparsities: [0.9] },
      }),
      '/fixed',
    ).map((j) => j.config);
    const cli = pruneConfigFrom({
      criterion: 'snip',
      model: 'lenet5',
      dataset: 'mnist',
      density: '0.1',
      scope: 'global',
      samplesPerClass: 10,
      temperature: 200,
      seed: 0,
      train: true,
      epochs: 1,
    } as never);
    for (const c of [...sweepConfigs(), ...run, cli]) expect(PruneConfigSchema.safeParse(c).success, JSON.stringify(c)).toBe(true);
  });

  it('runPrune refuses a hand-built config with a wrong type, range or unknown key before any work', async () => {
    const backend = await initBackend('wasm');
    const out = path.join(os.tmpdir(), 'pipeline-never-written');
    const refuse = (c: unknown) => runPrune(c as PruneConfig, { out, backend });
    await expect(refuse({ ...valid, density: '0.1' })).rejects.toThrow(/^prune config: invalid value at 'density': Expected number, received string$/);
    await expect(refuse({ ...valid, density: 1.5 })).rejects.toThrow(/^prune config: invalid value at 'density': Number must be less than or equal to 1$/);
    await expect(refuse({ ...valid, densty: 0.1 })).rejects.toThrow(/^prune config: unknown key\(s\) 'densty' at \(top level\); remove or rename them$/);
    await expect(refuse({ ...valid, train: { epochs: 0 } })).rejects.toThrow(/^prune config: invalid value at 'train\./);
    await expect(refuse({ ...valid, when: 'later' })).rejects.toThrow(/^prune config: invalid value at 'when': must be 'init', 'early' or 'epoch:K'$/);
  });

  it('fitAutos refuses a hand-built config the same way', async () => {
    const fit = {
      tables: ['t.arrow'],
      features: DEFAULT_FEATURES,
      hidden: [8],
      activation: 'relu',
      loss: 'mse',
      lr: 0.01,
      batchSize: 64,
      epochs: 1,
      seed: 0,
      maxRowsPerTensor: 100,
      control: false,
    };
    expect(FitConfigSchema.safeParse(fit).success).toBe(true);
    const out = path.join(os.tmpdir(), 'pipeline-never-written');
    expect(() => fitAutos({ ...fit, hidden: [0] } as never, out)).toThrow(/^fit config: invalid value at 'hidden\.0': Number must be greater than 0$/);
    expect(() => fitAutos({ ...fit, features: ['theta', 'nope'] } as never, out)).toThrow(/^fit config: invalid value at 'features\.1'/);
    expect(() => fitAutos({ ...fit, tables: [] } as never, out)).toThrow(/^fit config: invalid value at 'tables'/);
  });

  // Each rule between keys, once: a JSON config or library call reads it in keys, the CLI in its flags.
  it.each([
    [{ criterion: 'obd' }, "unknown criterion 'obd': choose one of", "unknown criterion 'obd': choose one of"],
    [{ criterion: 'lottery' }, "criterion 'lottery' needs 'table': a survival.arrow", "criterion 'lottery' needs --table: a survival.arrow"],
    [{ criterion: 'autos' }, "criterion 'autos' needs 'autos': a model directory", "criterion 'autos' needs --autos: a model directory"],
    [
      { criterion: 'lottery', table: 't.arrow', when: 'early', train: oneEpoch },
      "'when' early does not apply to it: drop 'when'",
      '--when early does not apply to it: drop --when',
    ],
    [{ when: 'epoch:1' }, "'when' epoch:1 trains before pruning: add 'train'", '--when epoch:1 trains before pruning: add --train'],
    [
      { when: 'epoch:1', train: oneEpoch },
      "'when' epoch:1 must prune after 1 to 0 dense epochs of the 1 trained; adjust 'train.epochs' or 'when'",
      '--when epoch:1 must prune after 1 to 0 dense epochs of the 1 trained; adjust --epochs or --when',
    ],
    [{ allocation: 'survival' }, "'allocation' survival needs 'criterion' autos", '--allocation survival needs --criterion autos'],
    [{ allocation: 'learned' }, "'allocation' learned needs 'autos'", '--allocation learned needs --autos'],
    [{ dataset: 'none' }, "criterion 'snip' needs scoring data but 'dataset' is none", "criterion 'snip' needs scoring data but --dataset is none"],
    [{ criterion: 'synflow', dataset: 'none', dumpScores: true }, "'dumpScores' writes g and Hg", '--dump-scores writes g and Hg'],
    [
      { criterion: 'synflow', dataset: 'none', train: oneEpoch },
      "'train' needs a dataset to train on, but 'dataset' is none",
      '--train needs a dataset to train on, but --dataset is none',
    ],
    [{ signalFloor: true }, "'signalFloor' applies to a layer allocation: set 'allocation'", '--signal-floor applies to a layer allocation: set --allocation'],
    [
      { ...structured, dumpScores: true },
      "'dumpScores' writes per-weight scores; with 'structured'",
      '--dump-scores writes per-weight scores; with --structured',
    ],
    [
      { ...structured, criterion: 'grasp' },
      "'structured' scores channels with crop, snip, random, not 'grasp': pick one of those or drop 'structured'",
      "--structured scores channels with crop, snip, random, not 'grasp': pick one of those or drop --structured",
    ],
    [
      { ...structured, scope: 'layer' },
      "'structured' ranks channels globally with ≥ 1 per layer: drop 'allocation', 'scope' and 'minLayerDensity'",
      '--structured ranks channels globally with ≥ 1 per layer: drop --allocation, --scope and --min-layer-density',
    ],
  ] as [Partial<PruneConfig>, string, string][])('%j', (change, inKeys, inFlags) => {
    const keys = refusal(change, 'keys');
    expect(keys.startsWith('prune config: ') && keys.includes(inKeys), keys).toBe(true);
    expect(keys).not.toMatch(/--[a-z]/);
    const flags = refusal(change, 'flags');
    expect(flags.includes(inFlags) && !flags.startsWith('prune config'), flags).toBe(true);
  });

  it('a config that keeps every rule passes, and the same keys set where they apply are accepted', () => {
    for (const c of [
      plain,
      { ...plain, when: 'epoch:1', train: { ...oneEpoch, epochs: 2 } },
      { ...plain, criterion: 'autos', autos: 'dir' },
      { ...plain, allocation: 'learned', autos: 'dir', signalFloor: true },
      { ...plain, criterion: 'synflow', dataset: 'none' },
    ])
      expect(() => checkPruneConfig(c, 'prune config'), JSON.stringify(c)).not.toThrow();
  });
});
