/**
 * The command-line flags whose values a sweep or run config gives by key instead: one table, so that a
 * rule written once in flag terms (lower layers check `prune`'s flags) reads in the config's own terms
 * when the value came from a JSON file.
 */
export const FLAG_KEYS: Readonly<Record<string, string>> = {
  '--model': 'model',
  '--width': 'width',
  '--dataset': 'dataset',
  '--data-dir': 'dataDir',
  '--pad-to': 'padTo',
  '--batch-norm': 'batchNorm',
  '--density': 'density',
  '--sparsity': 'sparsity',
  '--scope': 'scope',
  '--samples-per-class': 'samplesPerClass',
  '--temperature': 'temperature',
  '--criterion-option': 'criterionOptions',
  '--autos': 'autos',
  '--table': 'table',
  '--allocation': "an entry's @<allocation>",
  '--structured': "a 'structured:' entry",
  '--min-layer-density': 'a per-layer floor',
  '--epochs': 'train.epochs',
  '--steps': 'train.steps',
  '--train': 'train',
};

/** `message` with every flag of FLAG_KEYS replaced by the config key it stands for (other text as it is). */
export function inConfigTerms(message: string): string {
  return message.replace(/--[a-z][a-z0-9-]*/g, (flag) => FLAG_KEYS[flag] ?? flag);
}
