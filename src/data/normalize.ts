/** Per-channel normalization constants (docs/guide.md, "Data"). */
export const NORMALIZATION = {
  mnist: { mean: [0.1307], std: [0.3081] },
  fashionMnist: { mean: [0.286], std: [0.353] },
  cifar10: { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] },
  cifar100: { mean: [0.5071, 0.4867, 0.4408], std: [0.2675, 0.2565, 0.2761] },
} as const satisfies Record<string, { mean: number[]; std: number[] }>;

/**
 * Writes (x − mean[c]) / std[c] for `count` HWC pixels·channels of `src` (from srcOffset) into `dst`
 * (from dstOffset); the channel of element i is i mod C.
 */
export function normalizeInto(
  src: Float32Array,
  srcOffset: number,
  count: number,
  dst: Float32Array,
  dstOffset: number,
  mean: readonly number[],
  std: readonly number[],
): void {
  const channels = mean.length;
  if (channels === 1) {
    const m = mean[0];
    const s = std[0];
    for (let i = 0; i < count; i++) dst[dstOffset + i] = (src[srcOffset + i] - m) / s;
    return;
  }
  for (let i = 0; i < count; i += channels) {
    for (let c = 0; c < channels; c++) dst[dstOffset + i + c] = (src[srcOffset + i + c] - mean[c]) / std[c];
  }
}

/** Measured per-channel mean and (population) standard deviation of NHWC data. */
export function channelStats(images: Float32Array, channels: number): { mean: number[]; std: number[] } {
  const sum = new Float64Array(channels);
  const sumSq = new Float64Array(channels);
  for (let i = 0; i < images.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const v = images[i + c];
      sum[c] += v;
      sumSq[c] += v * v;
    }
  }
  const count = images.length / channels;
  const mean = Array.from(sum, (s) => s / count);
  const std = Array.from(sumSq, (s, c) => Math.sqrt(Math.max(0, s / count - mean[c] * mean[c])));
  return { mean, std };
}
