/**
 * The config key each command-line flag of `prune` (and the target flags every command shares) sets:
 * the one table between flags and keys. The CLI names keys by their flags (flagOf); a rule a lower layer
 * still words in flag terms reads in a sweep or run file's own terms (inConfigTerms).
 */
export const KEY_FLAGS: Readonly<Record<string, string>> = {
  criterion: '--criterion',
  model: '--model',
  width: '--width',
  dataset: '--dataset',
  dataDir: '--data-dir',
  padTo: '--pad-to',
  batchNorm: '--batch-norm',
  inputShape: '--input-shape',
  numClasses: '--classes',
  density: '--density',
  sparsity: '--sparsity',
  scope: '--scope',
  samplesPerClass: '--samples-per-class',
  bnMode: '--bn-mode',
  seed: '--seed',
  iterations: '--iterations',
  reconnect: '--reconnect',
  minLayerDensity: '--min-layer-density',
  temperature: '--temperature',
  criterionOptions: '--criterion-option',
  chunkSize: '--chunk-size',
  dumpScores: '--dump-scores',
  table: '--table',
  autos: '--autos',
  autosFeatures: '--features',
  allocation: '--allocation',
  signalFloor: '--signal-floor',
  train: '--train',
  'train.epochs': '--epochs',
  'train.steps': '--steps',
  when: '--when',
  earlyMaxEpochs: '--early-max-epochs',
  structured: '--structured',
};

/** The keys of an AutoS fit's config that `fit-autos` sets by a flag of another name. */
const FIT_KEY_FLAGS: Readonly<Record<string, string>> = {
  tables: '--table',
  valTable: '--val-table',
  holdout: '--holdout',
  holdoutArch: '--holdout-arch',
  maxRowsPerTensor: '--max-rows-per-tensor',
  allocationFeatures: '--allocation-features',
  allocationLambda: '--allocation-lambda',
  batchSize: '--batch-size',
};

/** A fit config's key as `fit-autos`' flag (the others are the key's own name as a flag). */
export const fitFlagOf = (key: string): string => FIT_KEY_FLAGS[key] ?? `--${key}`;

/** In a sweep or run file these are parts of a criterion entry, not keys of their own. */
const IN_ENTRIES: Readonly<Record<string, string>> = {
  allocation: "an entry's @<allocation>",
  structured: "a 'structured:' entry",
  minLayerDensity: 'a per-layer floor',
};

/** Flag → how a sweep or run file names it. */
export const FLAG_KEYS: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(KEY_FLAGS).map(([key, flag]) => [flag, IN_ENTRIES[key] ?? key]));

/** A job config's key as a sweep or run file says it (KeyNames for the planners' check of every job). */
export const inEntryTerms = (key: string): string => IN_ENTRIES[key] ?? `'${key}'`;

/** A config key as the flag that sets it (the CLI's KeyNames); a key no flag sets stays a quoted key. */
export const flagOf = (key: string): string => KEY_FLAGS[key] ?? `'${key}'`;

/** `message` with every flag of FLAG_KEYS replaced by the config key it stands for (other text as it is). */
export function inConfigTerms(message: string): string {
  return message.replace(/--[a-z][a-z0-9-]*/g, (flag) => FLAG_KEYS[flag] ?? flag);
}
