import type { Rng } from '../util/rng.ts';
import type { ImageShape } from './types.ts';

export const CROP_PADDING = 4;

export interface CropFlip {
  /** Window origin in the zero-padded image, each in [0, 2·padding]. */
  top: number;
  left: number;
  flip: boolean;
}

/**
 * torchvision's RandomCrop(size, padding) then RandomHorizontalFlip(0.5), on one raw HWC image:
 * out[y][x] = padded[y + top][x' + left] with x' = W−1−x when flipped, where padded is the image
 * surrounded by `padding` zero pixels (raw 0, i.e. before normalization, as torchvision pads).
 */
export function cropFlipInto(
  src: Float32Array,
  srcOffset: number,
  dst: Float32Array,
  dstOffset: number,
  [h, w, c]: ImageShape,
  { top, left, flip }: CropFlip,
  padding = CROP_PADDING,
): void {
  for (let y = 0; y < h; y++) {
    const sy = y + top - padding;
    for (let x = 0; x < w; x++) {
      const sx = (flip ? w - 1 - x : x) + left - padding;
      const out = dstOffset + (y * w + x) * c;
      if (sy < 0 || sy >= h || sx < 0 || sx >= w) {
        for (let k = 0; k < c; k++) dst[out + k] = 0;
      } else {
        const from = srcOffset + (sy * w + sx) * c;
        for (let k = 0; k < c; k++) dst[out + k] = src[from + k];
      }
    }
  }
}

/** Draws a crop-and-flip from `rng`, in this order: top, left, flip (p = 0.5). */
export function drawCropFlip(rng: Rng, padding = CROP_PADDING): CropFlip {
  const top = rng.int(2 * padding + 1);
  const left = rng.int(2 * padding + 1);
  const flip = rng.next() < 0.5;
  return { top, left, flip };
}

/** Random crop (zero padding 4) + horizontal flip of one raw image, drawn from `rng`. */
export function augmentInto(src: Float32Array, srcOffset: number, dst: Float32Array, dstOffset: number, shape: ImageShape, rng: Rng): void {
  cropFlipInto(src, srcOffset, dst, dstOffset, shape, drawCropFlip(rng));
}
