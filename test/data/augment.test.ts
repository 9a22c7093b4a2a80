import { describe, expect, it } from 'vitest';
import { CROP_PADDING, cropFlipInto, drawCropFlip } from '../../src/data/augment.ts';
import { makeBatch } from '../../src/data/batches.ts';
import { loadDataset } from '../../src/data/registry.ts';
import type { ImageShape } from '../../src/data/types.ts';
import { Rng } from '../../src/util/rng.ts';

const H = 6;
const W = 5;
const C = 3;
const shape: ImageShape = [H, W, C];
/** Every value distinct and non-zero, so a zero can only come from padding. */
const image = Float32Array.from({ length: H * W * C }, (_, i) => (i + 1) / 1000);
const at = (img: Float32Array, y: number, x: number, c: number) => img[(y * W + x) * C + c];

/** Independent reference: build the padded image explicitly, cut the window, mirror it. */
function reference(src: Float32Array, top: number, left: number, flip: boolean, pad = 4): Float32Array {
  const ph = H + 2 * pad;
  const pw = W + 2 * pad;
  const padded = new Float32Array(ph * pw * C);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < C; c++) padded[((y + pad) * pw + x + pad) * C + c] = at(src, y, x, c);
  const out = new Float32Array(H * W * C);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const wx = flip ? W - 1 - x : x;
      for (let c = 0; c < C; c++) out[(y * W + x) * C + c] = padded[((y + top) * pw + wx + left) * C + c];
    }
  }
  return out;
}

function apply(top: number, left: number, flip: boolean): Float32Array {
  const out = new Float32Array(image.length).fill(-1);
  cropFlipInto(image, 0, out, 0, shape, { top, left, flip });
  return out;
}

describe('crop and flip', () => {
  it('centre window without flip is the identity', () => {
    expect(apply(4, 4, false)).toEqual(image);
  });

  it('flip is a true mirror', () => {
    const out = apply(4, 4, true);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < C; c++) expect(at(out, y, x, c)).toBe(at(image, y, W - 1 - x, c));
    const twice = new Float32Array(image.length);
    cropFlipInto(out, 0, twice, 0, shape, { top: 4, left: 4, flip: true });
    expect(twice).toEqual(image);
  });

  it('crop is a shifted window with zero fill', () => {
    const out = apply(1, 6, false); // shift down by 3, left by 2
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const sy = y - 3;
        const sx = x + 2;
        const inside = sy >= 0 && sx < W;
        for (let c = 0; c < C; c++) expect(at(out, y, x, c)).toBe(inside ? at(image, sy, sx, c) : 0);
      }
    }
  });

  it('matches the padded-window reference for every offset and flip', () => {
    for (let top = 0; top <= 8; top++)
      for (let left = 0; left <= 8; left++) for (const flip of [false, true]) expect(apply(top, left, flip)).toEqual(reference(image, top, left, flip));
  });

  it('draws offsets in [0, 2·pad] and flips about half the time', () => {
    const rng = new Rng(3);
    let flips = 0;
    const tops = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const d = drawCropFlip(rng);
      expect(d.top).toBeGreaterThanOrEqual(0);
      expect(d.left).toBeLessThanOrEqual(2 * CROP_PADDING);
      tops.add(d.top);
      if (d.flip) flips++;
    }
    expect(tops.size).toBe(9);
    expect(flips / 2000).toBeGreaterThan(0.45);
    expect(flips / 2000).toBeLessThan(0.55);
  });
});

describe('augmented batches', () => {
  const ds = loadDataset('synthetic', { synthetic: { shape: [32, 32, 3], numClasses: 3, nTrain: 6, nTest: 0, seed: 1 } });

  it('keep shape and labels, and each image is a normalized crop/flip of its source (pad with raw 0)', () => {
    const indices = [4, 0, 5, 2];
    const { x, y } = makeBatch(ds.train, indices, { dataset: ds, augmentRng: new Rng(9) });
    expect(x.shape).toEqual([4, 32, 32, 3]);
    expect(Array.from(y.dataSync())).toEqual(indices.map((i) => ds.train.labels[i]));
    const values = x.dataSync();
    x.dispose();
    y.dispose();
    const size = 32 * 32 * 3;
    indices.forEach((src, b) => {
      const raw = ds.train.images.subarray(src * size, (src + 1) * size);
      const got = values.subarray(b * size, (b + 1) * size);
      let matches = 0;
      for (let top = 0; top <= 8; top++) {
        for (let left = 0; left <= 8; left++) {
          for (const flip of [false, true]) {
            const want = new Float32Array(size);
            cropFlipInto(raw, 0, want, 0, [32, 32, 3], { top, left, flip });
            if (want.every((v, i) => Math.abs((v - ds.mean[i % 3]) / ds.std[i % 3] - got[i]) < 1e-5)) matches++;
          }
        }
      }
      expect(matches).toBe(1);
    });
  });

  it('the same rng seed gives the same augmented batch; no rng gives the plain images', () => {
    const a = makeBatch(ds.train, [1, 2], { dataset: ds, augmentRng: new Rng(5) });
    const b = makeBatch(ds.train, [1, 2], { dataset: ds, augmentRng: new Rng(5) });
    const plain = makeBatch(ds.train, [1, 2], { dataset: ds });
    expect(a.x.dataSync()).toEqual(b.x.dataSync());
    expect(plain.x.dataSync()[0]).toBeCloseTo((ds.train.images[3072] - ds.mean[0]) / ds.std[0], 5);
    for (const t of [a.x, a.y, b.x, b.y, plain.x, plain.y]) t.dispose();
  });

  it('is not applied to sets without augment (mnist)', () => {
    const mnist = loadDataset('mnist');
    const a = makeBatch(mnist.train, [0, 1], { dataset: mnist, augmentRng: new Rng(1) });
    const plain = makeBatch(mnist.train, [0, 1], { dataset: mnist });
    expect(a.x.dataSync()).toEqual(plain.x.dataSync());
    for (const t of [a.x, a.y, plain.x, plain.y]) t.dispose();
  });
});
