import { usage } from '../util/errors.ts';
import type { Dataset, Split } from './types.ts';

/**
 * Centres every image in a size×size canvas of raw zeros (black, as torchvision's Pad), so 28×28 data
 * feeds models built for 32×32 (VGG's five pools). Odd margins put the extra row/column after the image.
 */
export function padDataset(ds: Dataset, size: number): Dataset {
  const [h, w] = ds.train.shape;
  if (!Number.isInteger(size) || size < Math.max(h, w))
    usage(`--pad-to ${size} is smaller than the ${h}×${w} images of ${ds.name}; use an integer ≥ ${Math.max(h, w)}`);
  if (size === h && size === w) return ds;
  return { ...ds, train: padSplit(ds.train, size), test: padSplit(ds.test, size) };
}

function padSplit(s: Split, size: number): Split {
  const [h, w, c] = s.shape;
  const top = Math.floor((size - h) / 2);
  const left = Math.floor((size - w) / 2);
  const inImage = h * w * c;
  const outImage = size * size * c;
  const images = new Float32Array(s.n * outImage);
  for (let i = 0; i < s.n; i++) {
    for (let y = 0; y < h; y++) {
      const from = i * inImage + y * w * c;
      images.set(s.images.subarray(from, from + w * c), i * outImage + ((top + y) * size + left) * c);
    }
  }
  return { images, labels: s.labels, n: s.n, shape: [size, size, c] };
}
