import fs from 'node:fs';
import path from 'node:path';
import { usage } from '../util/errors.ts';
import { checkLabelRange, readRequired } from './files.ts';
import { NORMALIZATION } from './normalize.ts';
import { defaultCacheDir } from './paths.ts';
import type { Dataset, Split } from './types.ts';

export type CifarName = 'cifar10' | 'cifar100';

interface CifarLayout {
  /** Folder the official archive unpacks to. */
  folder: string;
  trainFiles: string[];
  testFiles: string[];
  /** CIFAR-10: 1 label byte; CIFAR-100: 2 (coarse, fine — we use fine). */
  labelBytes: number;
  numClasses: number;
}

export const CIFAR_LAYOUTS: Record<CifarName, CifarLayout> = {
  cifar10: {
    folder: 'cifar-10-batches-bin',
    trainFiles: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
    testFiles: ['test_batch.bin'],
    labelBytes: 1,
    numClasses: 10,
  },
  cifar100: {
    folder: 'cifar-100-binary',
    trainFiles: ['train.bin'],
    testFiles: ['test.bin'],
    labelBytes: 2,
    numClasses: 100,
  },
};

const SIDE = 32;
const PLANE = SIDE * SIDE;
const PIXELS = PLANE * 3;

/** `dataDir` may hold the archive's folder (as `pipeline data fetch` leaves it) or be that folder itself. */
export function resolveCifarDir(name: CifarName, dataDir?: string): string {
  const layout = CIFAR_LAYOUTS[name];
  const base = path.resolve(dataDir ?? defaultCacheDir(name));
  const nested = path.join(base, layout.folder);
  if (fs.existsSync(nested)) return nested;
  if (fs.existsSync(path.join(base, layout.trainFiles[0]))) return base;
  return usage(`${name}: data not found in ${nested}; ${cifarFix(name)}`);
}

export function cifarFix(name: CifarName): string {
  return `run \`pipeline data fetch ${name}\` (or pass --data-dir <dir containing ${CIFAR_LAYOUTS[name].folder}/>)`;
}

/**
 * Decodes CIFAR binary records (label byte(s), then 1024 R, 1024 G, 1024 B in row-major CHW order)
 * into HWC [0, 1] floats, writing from record `first` on.
 */
export function decodeCifarRecords(bytes: Uint8Array, labelBytes: number, images: Float32Array, labels: Int32Array, first: number): number {
  const recordSize = labelBytes + PIXELS;
  const count = bytes.length / recordSize;
  for (let r = 0; r < count; r++) {
    const rec = r * recordSize;
    labels[first + r] = bytes[rec + labelBytes - 1];
    const pix = rec + labelBytes;
    const out = (first + r) * PIXELS;
    for (let p = 0; p < PLANE; p++) {
      images[out + 3 * p] = bytes[pix + p] / 255;
      images[out + 3 * p + 1] = bytes[pix + PLANE + p] / 255;
      images[out + 3 * p + 2] = bytes[pix + 2 * PLANE + p] / 255;
    }
  }
  return count;
}

function loadCifarSplit(name: CifarName, dir: string, files: string[]): Split {
  const layout = CIFAR_LAYOUTS[name];
  const recordSize = layout.labelBytes + PIXELS;
  const fix = cifarFix(name);
  const chunks = files.map((f) => {
    const file = path.join(dir, f);
    const bytes = readRequired(file, name, fix);
    if (bytes.length === 0 || bytes.length % recordSize !== 0) {
      usage(`${name}: ${file} is truncated or damaged (${bytes.length} bytes is not a whole number of ${recordSize}-byte records); ${fix}`);
    }
    return { file, bytes };
  });
  const n = chunks.reduce((s, c) => s + c.bytes.length / recordSize, 0);
  const images = new Float32Array(n * PIXELS);
  const labels = new Int32Array(n);
  let at = 0;
  for (const { file, bytes } of chunks) {
    const count = decodeCifarRecords(bytes, layout.labelBytes, images, labels, at);
    checkLabelRange(labels.subarray(at, at + count), layout.numClasses, name, file, fix);
    at += count;
  }
  return { images, labels, n, shape: [SIDE, SIDE, 3] };
}

export function loadCifar(name: CifarName, dataDir?: string): Dataset {
  const layout = CIFAR_LAYOUTS[name];
  const dir = resolveCifarDir(name, dataDir);
  return {
    name,
    train: loadCifarSplit(name, dir, layout.trainFiles),
    test: loadCifarSplit(name, dir, layout.testFiles),
    numClasses: layout.numClasses,
    mean: [...NORMALIZATION[name].mean],
    std: [...NORMALIZATION[name].std],
    augment: true,
  };
}
