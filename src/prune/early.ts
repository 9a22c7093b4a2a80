/**
 * EarlyCroP's trigger: train dense and prune once the relative weight distance
 * d_t = ‖W_t − W_1‖ / ‖W_1‖ plateaus, |d_t − d_{t−1}| < τ with τ = d_2 · (1 − target density),
 * or at `maxEpoch`. `distances[t − 1]` is d_t for epochs t = 1, 2, … (so distances[0] = 0).
 * Returns the epoch (1-based) after which to prune, or null while neither condition holds yet.
 */
export function plateauEpoch(distances: number[], targetDensity: number, maxEpoch: number): number | null {
  if (distances.length >= 2) {
    const tau = distances[1] * (1 - targetDensity);
    for (let t = 3; t <= distances.length; t++) {
      if (Math.abs(distances[t - 1] - distances[t - 2]) < tau) return t;
    }
  }
  return distances.length >= maxEpoch ? maxEpoch : null;
}

/** d = ‖W − W₁‖ / ‖W₁‖ over flat weight arrays (all prunable tensors together). */
export function relativeDistance(w: Float32Array[], w1: Float32Array[]): number {
  let num = 0;
  let den = 0;
  w.forEach((a, k) => {
    const b = w1[k];
    for (let i = 0; i < a.length; i++) {
      num += (a[i] - b[i]) ** 2;
      den += b[i] ** 2;
    }
  });
  return Math.sqrt(num / den);
}
