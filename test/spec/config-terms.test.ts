import { describe, expect, it } from 'vitest';
import { FLAG_KEYS, inConfigTerms } from '../../src/spec/flag-keys.ts';
import { planSweep } from '../../src/sweep/config.ts';
import { validateMainJob } from '../../src/run/main-job.ts';
import { MainJobSchema } from '../../src/run/config.ts';
import { UsageError } from '../../src/util/errors.ts';

const base = { targets: [{ model: 'lenet5', dataset: 'mnist' }], criteria: ['snip'], densities: [0.1], seeds: [0] };

/** The one line a sweep config gets, or a failure when it is accepted. */
function refusal(change: Record<string, unknown>): string {
  try {
    planSweep({ ...base, ...change }, 's.json');
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(change)}`);
}

describe('errors of a JSON config speak of its keys, not of command-line flags', () => {
  it.each([
    [{ targets: [{ model: 'vgg11', dataset: 'mnist', padTo: 10 }] }, /^s\.json: targets\[0\]: padTo 10 is smaller than the 28×28 images of mnist/],
    [{ targets: [{ model: 'lenet5', dataset: 'mnist', dataDir: '/x' }] }, /^s\.json: targets\[0\]: mnist is embedded and takes no dataDir/],
    [{ targets: [{ model: 'lenet5', dataset: 'mnist-idx' }] }, /^s\.json: targets\[0\]: mnist-idx needs a data directory; pass dataDir </],
    [
      { criteria: ['structured:crop@erk'] },
      /^s\.json: 'structured:crop@erk': a 'structured:' entry ranks channels globally with ≥ 1 per layer: drop an entry's @<allocation>, 'scope' and a per-layer floor$/,
    ],
    [{ criteria: ['structured:crop'], densities: [0.001] }, /density 0\.001 keeps 0 of 22 channels.*use density ≥ 0\.0909$/],
    // Checked when the sweep is planned, not in every job: the scoring sample must exist in the training split.
    [
      { samplesPerClass: 100_000 },
      /^s\.json: targets\[0\]: mnist: class 0 has only 801 training examples, fewer than the 100000 samples per class asked; lower samplesPerClass$/,
    ],
  ])('%j', (change, says) => {
    const line = refusal(change);
    expect(line).toMatch(says);
    expect(line).not.toMatch(/--[a-z]/);
  });

  it('a run config too (its target and samplesPerClass), and a data-free criterion needs no scoring sample', () => {
    const run = (prune: Record<string, unknown>) => () =>
      validateMainJob(
        MainJobSchema.parse({
          irp: { model: 'lenet300', dataset: 'mnist' },
          allowSeenTargets: true,
          prune: { model: 'lenet300', sparsities: [0.9], ...prune },
        }),
        'r.json',
      );
    expect(run({ criteria: ['snip'], samplesPerClass: 5000 })).toThrow(
      /^r\.json: prune: mnist: class 0 has only \d+ training examples.*lower samplesPerClass$/,
    );
    expect(run({ criteria: ['magnitude', 'random'], samplesPerClass: 5000 })).not.toThrow();
    expect(run({ criteria: ['snip'], padTo: 20 })).toThrow(/^r\.json: prune: padTo 20 is smaller/);
  });

  it('translates every flag of its table and leaves other text alone', () => {
    for (const [flag, key] of Object.entries(FLAG_KEYS)) expect(inConfigTerms(`use ${flag} 3`)).toBe(`use ${key} 3`);
    expect(inConfigTerms('pass --threads 2 or a-b--c')).toBe('pass --threads 2 or a-b--c');
  });
});
