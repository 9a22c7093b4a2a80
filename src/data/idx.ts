import { usage } from '../util/errors.ts';
import { checkLabelRange, readMaybeGzipped, requireDir } from './files.ts';
import type { Split } from './types.ts';

const IMAGES_MAGIC = 0x00000803; // unsigned bytes, 3 dimensions
const LABELS_MAGIC = 0x00000801; // unsigned bytes, 1 dimension

/** What a reader needs to explain itself: the dataset name and the one-line fix for bad files. */
export interface ReaderContext {
  what: string;
  fix: string;
}

function readHeader(bytes: Uint8Array, file: string, magic: number, ctx: ReaderContext): number[] {
  const ndim = magic & 0xff;
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) usage(`${ctx.what}: ${file} is truncated (${bytes.length} bytes, shorter than its IDX header); ${ctx.fix}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found = view.getUint32(0, false);
  if (found !== magic) {
    usage(`${ctx.what}: ${file} has wrong magic number 0x${hex(found)} (expected 0x${hex(magic)}); ${ctx.fix}`);
  }
  const dims: number[] = [];
  for (let d = 0; d < ndim; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const expected = headerBytes + dims.reduce((a, b) => a * b, 1);
  if (bytes.length < expected) {
    usage(`${ctx.what}: ${file} is truncated (${bytes.length} bytes, header [${dims.join('x')}] needs ${expected}); ${ctx.fix}`);
  }
  if (bytes.length > expected) {
    usage(`${ctx.what}: ${file} has ${bytes.length - expected} bytes beyond its header [${dims.join('x')}]; ${ctx.fix}`);
  }
  return dims;
}

function hex(x: number): string {
  return x.toString(16).padStart(8, '0');
}

/** Decodes an IDX image file (magic 0x00000803, dims n, rows, cols) into [0, 1] floats. */
export function decodeIdxImages(bytes: Uint8Array, file: string, ctx: ReaderContext): { images: Float32Array; n: number; rows: number; cols: number } {
  const [n, rows, cols] = readHeader(bytes, file, IMAGES_MAGIC, ctx);
  const pixels = bytes.subarray(16);
  const images = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) images[i] = pixels[i] / 255;
  return { images, n, rows, cols };
}

/** Decodes an IDX label file (magic 0x00000801, dim n). */
export function decodeIdxLabels(bytes: Uint8Array, file: string, ctx: ReaderContext): Int32Array {
  readHeader(bytes, file, LABELS_MAGIC, ctx);
  return Int32Array.from(bytes.subarray(8));
}

function loadIdxSplit(dir: string, prefix: 'train' | 't10k', numClasses: number, ctx: ReaderContext): Split {
  const img = readMaybeGzipped(dir, `${prefix}-images-idx3-ubyte`, ctx.what, ctx.fix);
  const lab = readMaybeGzipped(dir, `${prefix}-labels-idx1-ubyte`, ctx.what, ctx.fix);
  const { images, n, rows, cols } = decodeIdxImages(img.bytes, img.file, ctx);
  const labels = decodeIdxLabels(lab.bytes, lab.file, ctx);
  if (labels.length !== n) {
    usage(`${ctx.what}: ${img.file} holds ${n} images but ${lab.file} holds ${labels.length} labels; ${ctx.fix}`);
  }
  checkLabelRange(labels, numClasses, ctx.what, lab.file, ctx.fix);
  return { images, labels, n, shape: [rows, cols, 1] };
}

/** Reads the four standard IDX files (gzipped or not) from `dir`: train-* → train, t10k-* → test. */
export function loadIdxDir(dir: string, numClasses: number, ctx: ReaderContext): { train: Split; test: Split } {
  requireDir(dir, ctx.what, ctx.fix);
  const train = loadIdxSplit(dir, 'train', numClasses, ctx);
  const test = loadIdxSplit(dir, 't10k', numClasses, ctx);
  for (const [split, s] of [
    ['train', train],
    ['test', test],
  ] as const)
    if (s.n === 0) usage(`${ctx.what}: the ${split} split in ${dir} holds no images; pass a dataset with examples in both splits`);
  if (train.shape.join() !== test.shape.join()) {
    usage(`${ctx.what}: train images are ${train.shape[0]}x${train.shape[1]} but test images are ${test.shape[0]}x${test.shape[1]} in ${dir}; ${ctx.fix}`);
  }
  return { train, test };
}
