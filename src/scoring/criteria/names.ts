/**
 * The registry's criterion names, in its order, without loading any criterion (and so the engine):
 * for help texts. index.ts checks at load that its registry has exactly these names.
 */
export const CRITERION_NAMES = [
  'random',
  'magnitude',
  'snip',
  'grasp',
  'grasp-abs',
  'synflow',
  'iter-snip',
  'force',
  'prospr',
  'ntk-sap',
  'lottery',
  'autos',
  'crop',
] as const;
