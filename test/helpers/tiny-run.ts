/** A whole `pipeline run` in seconds: a 2-round lenet300 IRP source, a tiny fit, 7 prune jobs of 20 steps. */
export const tiny = {
  irp: { model: 'lenet300', width: 0.25, dataset: 'mnist', criterion: 'magnitude', rounds: 2, finalDensity: 0.1, epochsPerRound: 1, train: { batchSize: 256 } },
  // Source and target are one architecture: a test of the machinery, not a transfer evaluation.
  allowSeenTargets: true,
  autos: { hidden: [8], epochs: 1 },
  prune: { model: 'lenet300', width: 0.25, criteria: ['autos', 'snip', 'random'], sparsities: [0.5, 0.9], train: { epochs: 1, steps: 20 } },
};
