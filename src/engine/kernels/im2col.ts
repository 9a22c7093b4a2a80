/**
 * Host-side (JS) patch extraction for NHWC convolutions: rows (i, j, ci) in the filter's HWIO order,
 * columns the output positions (n, oy, ox).
 */
export interface PatchGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
}

/**
 * Transposed patches [K, M] from x already transposed to [Cin, N, H, W]: every row (i, j, ci) is a
 * run of input rows, so the copy is sequential on both sides.
 */
export function im2colTransposed(xT: Float32Array, g: PatchGeometry, out: Float32Array): void {
  const { batch, inH, inW, inC, outH, outW, kh, kw, strideH, strideW, padTop, padLeft } = g;
  const m = batch * outH * outW;
  // Output columns ox whose input column ox·s − left + j lies inside the image.
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const oxFirst = Math.max(0, Math.ceil((padLeft - j) / strideW));
      const oxEnd = Math.min(outW, Math.floor((inW - 1 + padLeft - j) / strideW) + 1);
      for (let ci = 0; ci < inC; ci++) {
        const base = ((i * kw + j) * inC + ci) * m;
        for (let n = 0; n < batch; n++) {
          for (let oy = 0; oy < outH; oy++) {
            const dst = base + (n * outH + oy) * outW;
            const iy = oy * strideH - padTop + i;
            if (iy < 0 || iy >= inH || oxEnd <= oxFirst) {
              for (let ox = 0; ox < outW; ox++) out[dst + ox] = 0;
              continue;
            }
            const src = ((ci * batch + n) * inH + iy) * inW - padLeft + j;
            for (let ox = 0; ox < oxFirst; ox++) out[dst + ox] = 0;
            for (let ox = oxFirst; ox < oxEnd; ox++) out[dst + ox] = xT[src + ox * strideW];
            for (let ox = oxEnd; ox < outW; ox++) out[dst + ox] = 0;
          }
        }
      }
    }
  }
}
