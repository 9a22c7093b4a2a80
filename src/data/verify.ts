import { usage } from '../util/errors.ts';
import { catalogEntry } from './catalog.ts';
import { channelStats } from './normalize.ts';
import { loadDataset, type LoadOptions } from './registry.ts';
import type { Split } from './types.ts';

export interface SplitSummary {
  n: number;
  min: number;
  max: number;
  classCounts: number[];
}

export interface VerifySummary {
  name: string;
  ok: true;
  shape: [number, number, number];
  numClasses: number;
  train: SplitSummary;
  test: SplitSummary;
  normalization: { mean: number[]; std: number[] };
  /** Per-channel mean/std measured on the train split, to compare with the constants above. */
  measured: { mean: number[]; std: number[] };
}

function summarize(split: Split, numClasses: number, label: string, problems: string[]): SplitSummary {
  const [h, w, c] = split.shape;
  if (split.labels.length !== split.n) problems.push(`${label} has ${split.labels.length} labels for ${split.n} records`);
  if (split.images.length !== split.n * h * w * c) problems.push(`${label} has ${split.images.length} pixel values, expected ${split.n}×${h}×${w}×${c}`);
  let min = Infinity;
  let max = -Infinity;
  for (const v of split.images) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min < 0 || max > 1) problems.push(`${label} pixel values span [${min}, ${max}], outside [0, 1]`);
  const classCounts = new Array<number>(numClasses).fill(0);
  for (const y of split.labels) {
    if (y < 0 || y >= numClasses) problems.push(`${label} has label ${y} outside 0..${numClasses - 1}`);
    else classCounts[y]++;
  }
  return { n: split.n, min, max, classCounts };
}

/** Loads a dataset and checks record counts, label ranges, pixel ranges and the sizes documented in datasets/registry.json. */
export function verifyDataset(name: string, opts: LoadOptions = {}): VerifySummary {
  const ds = loadDataset(name, opts);
  const problems: string[] = [];
  const train = summarize(ds.train, ds.numClasses, 'train', problems);
  const test = summarize(ds.test, ds.numClasses, 'test', problems);
  if (train.classCounts.some((k) => k === 0)) problems.push('train split lacks some classes');
  const doc = catalogEntry(name);
  if (doc?.split && name !== 'synthetic') {
    if (doc.split.train !== ds.train.n) problems.push(`train has ${ds.train.n} records, registry.json documents ${doc.split.train}`);
    if (doc.split.test !== ds.test.n) problems.push(`test has ${ds.test.n} records, registry.json documents ${doc.split.test}`);
    if (doc.shape.join() !== ds.train.shape.join()) problems.push(`images are ${ds.train.shape.join('x')}, registry.json documents ${doc.shape.join('x')}`);
  }
  if (problems.length > 0) usage(`${name} failed verification: ${problems.slice(0, 3).join('; ')}; re-fetch or replace the data files`);
  return {
    name,
    ok: true,
    shape: ds.train.shape,
    numClasses: ds.numClasses,
    train,
    test,
    normalization: { mean: ds.mean, std: ds.std },
    measured: channelStats(ds.train.images, ds.train.shape[2]),
  };
}
