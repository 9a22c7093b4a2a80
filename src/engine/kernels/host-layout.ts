/**
 * Host-side (JS) data movement for the composed convolution gradients, on views of the backend's
 * memory. wasm's Transpose kernel walks generic 4-D index arithmetic at ~7 ns per element; these
 * loops move rows or 4-channel blocks at 2–3 ns per element (ResNet-18 shapes, this project's bench).
 */

/**
 * dst[d0 + c·dstStride + r] = src[s0 + r·srcStride + c] for r < rows, c < cols: 16-row strips, four
 * columns per pass (four write streams open, the strip's source rows stay in L1).
 */
function transposeStrided(
  src: Float32Array,
  s0: number,
  rows: number,
  cols: number,
  srcStride: number,
  dst: Float32Array,
  d0: number,
  dstStride: number,
): void {
  const B = 16;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const e0 = d0 + c * dstStride;
      const e1 = e0 + dstStride;
      const e2 = e1 + dstStride;
      const e3 = e2 + dstStride;
      let s = s0 + r0 * srcStride + c;
      for (let r = r0; r < r1; r++, s += srcStride) {
        dst[e0 + r] = src[s];
        dst[e1 + r] = src[s + 1];
        dst[e2 + r] = src[s + 2];
        dst[e3 + r] = src[s + 3];
      }
    }
    for (; c < cols; c++) {
      const e = d0 + c * dstStride;
      let s = s0 + r0 * srcStride + c;
      for (let r = r0; r < r1; r++, s += srcStride) dst[e + r] = src[s];
    }
  }
}

/** dst[c, r] = src[r, c] for a rows×cols matrix. */
export function transpose2d(src: Float32Array, rows: number, cols: number, dst: Float32Array): void {
  transposeStrided(src, 0, rows, cols, cols, dst, 0, rows);
}

/** dst[d … d+n) = src[s … s+n); a loop, since a subarray per short row costs more than the copy. */
function copyRun(src: Float32Array, s: number, dst: Float32Array, d: number, n: number): void {
  if (n >= 256) dst.set(src.subarray(s, s + n), d);
  else for (let i = 0; i < n; i++) dst[d + i] = src[s + i];
}

/** dst[c, b, a] = src[a, b, c] (NHWC x → [C, H·W, N]): for each b, an a×c block transposed. */
export function reverseAxes3(src: Float32Array, a: number, b: number, c: number, dst: Float32Array): void {
  for (let j = 0; j < b; j++) transposeStrided(src, j * c, a, c, b * c, dst, j * a, b * a);
}

/** dst[b, a, :] = src[a, b, :] for rows of c contiguous floats (NHWC dy → [H·W, N, C]). */
export function swapLeadingAxes(src: Float32Array, a: number, b: number, c: number, dst: Float32Array): void {
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) copyRun(src, (i * b + j) * c, dst, (j * a + i) * c, c);
}

/**
 * dst[i, j, ci, co] = src[ci, i, j, co] for i < kh, j < kw of a [cin, h ≥ kh, w ≥ kw, cout] source
 * (the dilated-conv filter gradient, cropped and put in HWIO order).
 */
export function cropToHwio(src: Float32Array, cin: number, h: number, w: number, cout: number, kh: number, kw: number, dst: Float32Array): void {
  for (let ci = 0; ci < cin; ci++)
    for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) copyRun(src, ((ci * h + i) * w + j) * cout, dst, ((i * kw + j) * cin + ci) * cout, cout);
}

/**
 * One polyphase sub-filter of an HWIO filter, flipped in space with in/out channels swapped:
 * dst[t, u, co, ci] = w[r + s·(th−1−t), c + s·(tw−1−u), ci, co] for t < th, u < tw.
 * With s = 1 and r = c = 0 it is the whole filter flipped (the stride-1 input gradient).
 */
export function flippedSubFilter(
  w: Float32Array,
  shape: readonly number[],
  phase: { r: number; c: number; sh: number; sw: number; th: number; tw: number },
  dst: Float32Array,
): void {
  const [, kw, cin, cout] = shape;
  const { r, c, sh, sw, th, tw } = phase;
  const tap = cin * cout;
  for (let t = 0; t < th; t++)
    for (let u = 0; u < tw; u++) {
      const src = ((r + sh * (th - 1 - t)) * kw + (c + sw * (tw - 1 - u))) * tap;
      transpose2d(w.subarray(src, src + tap), cin, cout, dst.subarray((t * tw + u) * tap, (t * tw + u + 1) * tap));
    }
}

/**
 * Writes one phase's [n, ph, pw, ch] result into every s-th row and column of dst [n, h, w, ch]:
 * dst[b, y0 + s·oy, x0 + s·ox, :] = part[b, oy, ox, :].
 */
export function scatterPhase(
  part: Float32Array,
  [n, ph, pw, ch]: readonly number[],
  dst: Float32Array,
  [h, w]: readonly [number, number],
  { y0, x0, sh, sw }: { y0: number; x0: number; sh: number; sw: number },
): void {
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < ph; oy++) {
      const rowOut = (b * h + y0 + sh * oy) * w;
      const rowIn = (b * ph + oy) * pw;
      for (let ox = 0; ox < pw; ox++) copyRun(part, (rowIn + ox) * ch, dst, (rowOut + x0 + sw * ox) * ch, ch);
    }
}

/** dst[r, :c] = src[r, :c] and dst[r, c:cPad] = 0 for rows of c channels widened to cPad. */
export function padChannels(src: Float32Array, rows: number, c: number, cPad: number, dst: Float32Array): void {
  dst.fill(0);
  for (let r = 0; r < rows; r++) copyRun(src, r * c, dst, r * cPad, c);
}

/** dst [taps, cin, cout] = the leading cin × cout corner of each tap's [cinPad, coutPad] block of src. */
export function cropChannels(src: Float32Array, taps: number, cinPad: number, coutPad: number, cin: number, cout: number, dst: Float32Array): void {
  for (let t = 0; t < taps; t++) for (let ci = 0; ci < cin; ci++) copyRun(src, (t * cinPad + ci) * coutPad, dst, (t * cin + ci) * cout, cout);
}
