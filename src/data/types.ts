/** One split of a dataset: NHWC images with raw pixel values scaled to [0, 1]. Treat as read-only. */
export interface Split {
  images: Float32Array;
  labels: Int32Array;
  n: number;
  shape: [number, number, number];
}

export interface Dataset {
  name: string;
  train: Split;
  test: Split;
  numClasses: number;
  /** Per-channel normalization applied when batches are built: (x − mean[c]) / std[c]. */
  mean: number[];
  std: number[];
  /** Train-time random crop (pad 4) + horizontal flip; true for the 32×32 colour sets. */
  augment: boolean;
}

export type ImageShape = [number, number, number];

export function imageSize(shape: ImageShape): number {
  return shape[0] * shape[1] * shape[2];
}
