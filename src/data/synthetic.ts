import { usage } from '../util/errors.ts';
import { Rng } from '../util/rng.ts';
import { channelStats } from './normalize.ts';
import type { Dataset, ImageShape, Split } from './types.ts';

export interface SyntheticOptions {
  shape?: ImageShape;
  numClasses?: number;
  nTrain?: number;
  nTest?: number;
  seed?: number;
  /** Standard deviation of the per-pixel Gaussian noise added to the class prototype. */
  noise?: number;
  /** Defaults to the rule for real sets: true for 32×32 colour images. */
  augment?: boolean;
}

export const SYNTHETIC_DEFAULTS = { shape: [28, 28, 1] as ImageShape, numClasses: 10, nTrain: 1000, nTest: 200, seed: 0, noise: 0.3 };

const GRID = 4;
const MAX_ELEMENTS = 2 ** 30;

/**
 * Class-structured images: each class has a smooth random prototype (a 4×4×C grid of uniform values,
 * bilinearly upsampled, so it survives a few pixels of crop shift); a sample is its class prototype
 * plus Gaussian noise, clipped to [0, 1]. Labels go round-robin (i mod numClasses). Deterministic from seed.
 * Normalization constants are the measured per-channel mean/std of the train split.
 */
export function makeSynthetic(options: SyntheticOptions = {}): Dataset {
  const d = SYNTHETIC_DEFAULTS;
  const o = {
    shape: options.shape ?? d.shape,
    numClasses: options.numClasses ?? d.numClasses,
    nTrain: options.nTrain ?? d.nTrain,
    nTest: options.nTest ?? d.nTest,
    seed: options.seed ?? d.seed,
    noise: options.noise ?? d.noise,
  };
  validate(o);
  const rng = new Rng(o.seed);
  const prototypes = Array.from({ length: o.numClasses }, () => prototype(o.shape, rng));
  const train = sampleSplit(o.nTrain, prototypes, o.shape, o.noise, rng.fork(1));
  const test = sampleSplit(o.nTest, prototypes, o.shape, o.noise, rng.fork(2));
  const stats = channelStats(train.images, o.shape[2]);
  return {
    name: 'synthetic',
    train,
    test,
    numClasses: o.numClasses,
    mean: stats.mean,
    std: stats.std.map((s) => (s > 1e-6 ? s : 1)),
    augment: options.augment ?? (o.shape[0] === 32 && o.shape[1] === 32 && o.shape[2] === 3),
  };
}

function validate(o: typeof SYNTHETIC_DEFAULTS): void {
  const positiveInt = (v: unknown) => Number.isInteger(v) && (v as number) >= 1;
  if (!Array.isArray(o.shape) || o.shape.length !== 3 || !o.shape.every(positiveInt)) {
    usage(`synthetic: shape must be [H, W, C] with positive integers, got ${JSON.stringify(o.shape)}; fix the synthetic shape option`);
  }
  if (!Number.isInteger(o.numClasses) || o.numClasses < 2)
    usage(`synthetic: numClasses must be an integer ≥ 2, got ${o.numClasses}; fix the synthetic numClasses option`);
  if (!positiveInt(o.nTrain)) usage(`synthetic: nTrain must be a positive integer, got ${o.nTrain}; fix the synthetic nTrain option`);
  if (!Number.isInteger(o.nTest) || o.nTest < 0) usage(`synthetic: nTest must be an integer ≥ 0, got ${o.nTest}; fix the synthetic nTest option`);
  if (!Number.isInteger(o.seed)) usage(`synthetic: seed must be an integer, got ${o.seed}; fix the synthetic seed option`);
  if (!(o.noise >= 0)) usage(`synthetic: noise must be ≥ 0, got ${o.noise}; fix the synthetic noise option`);
  const size = o.shape[0] * o.shape[1] * o.shape[2];
  if (Math.max(o.nTrain, o.nTest) * size > MAX_ELEMENTS) {
    usage(`synthetic: ${Math.max(o.nTrain, o.nTest)} images of ${o.shape.join('x')} exceed ${MAX_ELEMENTS} values; lower nTrain/nTest or the shape`);
  }
}

function prototype([h, w, c]: ImageShape, rng: Rng): Float32Array {
  const gh = Math.min(GRID, h);
  const gw = Math.min(GRID, w);
  const grid = Float32Array.from({ length: gh * gw * c }, () => rng.next());
  const out = new Float32Array(h * w * c);
  for (let y = 0; y < h; y++) {
    const fy = h > 1 ? (y * (gh - 1)) / (h - 1) : 0;
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, gh - 1);
    const ty = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = w > 1 ? (x * (gw - 1)) / (w - 1) : 0;
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, gw - 1);
      const tx = fx - x0;
      for (let k = 0; k < c; k++) {
        const at = (yy: number, xx: number) => grid[(yy * gw + xx) * c + k];
        const top = at(y0, x0) * (1 - tx) + at(y0, x1) * tx;
        const bottom = at(y1, x0) * (1 - tx) + at(y1, x1) * tx;
        out[(y * w + x) * c + k] = top * (1 - ty) + bottom * ty;
      }
    }
  }
  return out;
}

function sampleSplit(n: number, prototypes: Float32Array[], shape: ImageShape, noise: number, rng: Rng): Split {
  const size = shape[0] * shape[1] * shape[2];
  const images = new Float32Array(n * size);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % prototypes.length;
    labels[i] = label;
    const proto = prototypes[label];
    for (let p = 0; p < size; p++) {
      const v = proto[p] + noise * rng.normal();
      images[i * size + p] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return { images, labels, n, shape: [shape[0], shape[1], shape[2]] };
}
