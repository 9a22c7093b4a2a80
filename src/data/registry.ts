import path from 'node:path';
import { usage } from '../util/errors.ts';
import { loadCifar } from './cifar.ts';
import { loadIdxDir } from './idx.ts';
import { loadMnistEmbedded } from './mnist-embedded.ts';
import { NORMALIZATION } from './normalize.ts';
import { padDataset } from './pad.ts';
import { makeSynthetic, type SyntheticOptions } from './synthetic.ts';
import type { Dataset } from './types.ts';

export interface LoadOptions {
  /** Directory holding the dataset's files (overrides the default location). */
  dataDir?: string;
  synthetic?: SyntheticOptions;
  /** Zero-pad every image to padTo×padTo (e.g. 32 for 28×28 data on VGG). */
  padTo?: number;
}

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

const loaders: Record<string, (opts: LoadOptions) => Dataset> = {
  mnist: (opts) => {
    if (opts.dataDir !== undefined) usage('mnist is embedded and takes no --data-dir; use dataset mnist-idx for MNIST IDX files');
    return loadMnistEmbedded();
  },
  'mnist-idx': (opts) => {
    const fix = 'pass --data-dir <dir with train-/t10k-images-idx3-ubyte[.gz] and train-/t10k-labels-idx1-ubyte[.gz]>';
    if (opts.dataDir === undefined) usage(`mnist-idx needs a data directory; ${fix}`);
    const splits = loadIdxDir(path.resolve(opts.dataDir), 10, { what: 'mnist-idx', fix });
    return { name: 'mnist-idx', ...splits, numClasses: 10, ...copy(NORMALIZATION.mnist), augment: false };
  },
  'fashion-mnist': (opts) => {
    const fix = 'install Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass --data-dir <dir with the 4 IDX files>';
    const dir = path.resolve(opts.dataDir ?? FASHION_MNIST_DIR);
    const splits = loadIdxDir(dir, 10, { what: 'fashion-mnist', fix });
    return { name: 'fashion-mnist', ...splits, numClasses: 10, ...copy(NORMALIZATION.fashionMnist), augment: false };
  },
  cifar10: (opts) => loadCifar('cifar10', opts.dataDir),
  cifar100: (opts) => loadCifar('cifar100', opts.dataDir),
  synthetic: (opts) => {
    if (opts.dataDir !== undefined) usage('synthetic data is generated and takes no --data-dir; drop --data-dir');
    return makeSynthetic(opts.synthetic);
  },
};

function copy(c: { readonly mean: readonly number[]; readonly std: readonly number[] }): { mean: number[]; std: number[] } {
  return { mean: [...c.mean], std: [...c.std] };
}

export function datasetNames(): string[] {
  return Object.keys(loaders);
}

/**
 * `synthetic:HxWxC[:classes[:nTrain]]` names a synthetic set of that shape from the command line,
 * e.g. synthetic:32x32x3:10:1000.
 */
function parseSyntheticName(name: string): SyntheticOptions {
  const [, shape, classes, nTrain] = name.split(':');
  const dims = (shape ?? '').split('x').map(Number);
  const numbers = [...dims, Number(classes ?? 10), Number(nTrain ?? 1000)];
  if (dims.length !== 3 || !numbers.every((d) => Number.isInteger(d) && d > 0)) {
    usage(`bad synthetic dataset '${name}': write synthetic:HxWxC[:classes[:nTrain]], e.g. synthetic:32x32x3:10`);
  }
  return { shape: dims as [number, number, number], numClasses: Number(classes ?? 10), nTrain: Number(nTrain ?? 1000) };
}

/** Loads a dataset by name. The embedded mnist is decoded once per process and shared: treat splits as read-only. */
export function loadDataset(name: string, opts: LoadOptions = {}): Dataset {
  let ds: Dataset;
  if (name.startsWith('synthetic:')) ds = loaders.synthetic({ ...opts, synthetic: { ...opts.synthetic, ...parseSyntheticName(name) } });
  else {
    const load = Object.hasOwn(loaders, name) ? loaders[name] : undefined;
    if (!load) usage(`unknown dataset "${name}"; use one of: ${datasetNames().join(', ')}`);
    ds = load(opts);
  }
  return opts.padTo === undefined ? ds : padDataset(ds, opts.padTo);
}
