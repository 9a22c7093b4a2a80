import type * as tf from '@tensorflow/tfjs';
import { KernelComposer } from '../compose.ts';
import { geometry } from '../conv-backprop.ts';
import type { ProgramUniform, WebGpuBackend } from './program.ts';

/**
 * The filter gradient of a convolution as one tiled implicit-GEMM WGSL program:
 *   dW[k, co] = Σ_m patch[m, k] · dy[m, co],  k = (i·kw + j)·Cin + ci,  m = (n·Ho + ho)·Wo + wo,
 * where patch[m, k] = x[n, ho·sh + i − padTop, wo·sw + j − padLeft, ci] (0 outside the image) is read
 * straight from x, never materialised (the im2col matrix of a resnet18-w64 batch-128 first stage is
 * 300 MB). A workgroup of 16×16 threads owns a 64×64 tile of dW, each thread a 4×4 block in registers;
 * the long m axis is walked in steps of 16 rows staged in workgroup memory, and split over the
 * dispatch's z axis (split-K: dW is small, so without the split few workgroups would share all the
 * work), the partial tiles then summed by one Sum. Two dispatches per conv where the gathered im2col
 * took kh·kw + 4.
 */

const TILE = 64;
const ROWS = 16;
const THREADS = 16;
const PER_THREAD = TILE / THREADS;

/** Rows of the m axis per split; PIPELINE_SPLITK_ROWS overrides it for tuning on a given GPU. */
const SPLIT_ROWS = Number(process.env.PIPELINE_SPLITK_ROWS ?? 4096);

/** How many splits of the m axis: ⌈m / rows⌉, each at most `rows` long (the last may be shorter). */
export function splitsOf(m: number, rows = SPLIT_ROWS): number {
  return Math.max(1, Math.ceil(m / rows));
}

const UNIFORMS =
  'inH : i32, inW : i32, inC : i32, outH : i32, outW : i32, outC : i32, kw : i32, strideH : i32, strideW : i32, padTop : i32, padLeft : i32, rows : i32, depth : i32, rowsPerSplit : i32,';

class FilterGradProgram {
  variableNames = ['x', 'dy'];
  outputShape: number[];
  shaderKey = `pipelineFilterGrad_${TILE}_${ROWS}`;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [THREADS, THREADS, 1];
  uniforms = UNIFORMS;
  size = false;

  constructor(splits: number, depth: number, outC: number) {
    this.outputShape = [splits, depth, outC];
    this.dispatch = [Math.ceil(outC / TILE), Math.ceil(depth / TILE), splits];
  }

  getUserCode(): string {
    return `
  var<workgroup> patchTile : array<array<f32, ${TILE}>, ${ROWS}>;
  var<workgroup> dyTile : array<array<f32, ${TILE}>, ${ROWS}>;

  fn patchAt(m : i32, k : i32) -> f32 {
    if (m >= uniforms.rows || k >= uniforms.depth) { return 0.0; }
    let ci = k % uniforms.inC;
    let ij = k / uniforms.inC;
    let i = ij / uniforms.kw;
    let j = ij % uniforms.kw;
    let wo = m % uniforms.outW;
    let nho = m / uniforms.outW;
    let ho = nho % uniforms.outH;
    let n = nho / uniforms.outH;
    let h = ho * uniforms.strideH + i - uniforms.padTop;
    let w = wo * uniforms.strideW + j - uniforms.padLeft;
    if (h < 0 || h >= uniforms.inH || w < 0 || w >= uniforms.inW) { return 0.0; }
    return x[((n * uniforms.inH + h) * uniforms.inW + w) * uniforms.inC + ci];
  }

  fn dyAt(m : i32, c : i32) -> f32 {
    if (m >= uniforms.rows || c >= uniforms.outC) { return 0.0; }
    return dy[m * uniforms.outC + c];
  }

  fn main(index : i32) {
    let tx = i32(localId.x);
    let ty = i32(localId.y);
    let cBase = i32(workgroupId.x) * ${TILE};
    let kBase = i32(workgroupId.y) * ${TILE};
    let split = i32(workgroupId.z);
    let mStart = split * uniforms.rowsPerSplit;
    let mEnd = min(uniforms.rows, mStart + uniforms.rowsPerSplit);
    var acc : array<array<f32, ${PER_THREAD}>, ${PER_THREAD}>;
    for (var a = 0; a < ${PER_THREAD}; a = a + 1) {
      for (var b = 0; b < ${PER_THREAD}; b = b + 1) { acc[a][b] = 0.0; }
    }
    // Bounded by uniforms only, so the barriers stay in uniform control flow (workgroupId reaches the
    // shader through a private variable, which WGSL's uniformity analysis does not trust).
    let steps = (uniforms.rowsPerSplit + ${ROWS - 1}) / ${ROWS};
    for (var step = 0; step < steps; step = step + 1) {
      let m0 = mStart + step * ${ROWS};
      for (var e = i32(localIndex); e < ${ROWS * TILE}; e = e + ${THREADS * THREADS}) {
        let r = e / ${TILE};
        let col = e % ${TILE};
        let m = m0 + r;
        var p = 0.0;
        var d = 0.0;
        if (m < mEnd) {
          p = patchAt(m, kBase + col);
          d = dyAt(m, cBase + col);
        }
        patchTile[r][col] = p;
        dyTile[r][col] = d;
      }
      workgroupBarrier();
      for (var r = 0; r < ${ROWS}; r = r + 1) {
        for (var a = 0; a < ${PER_THREAD}; a = a + 1) {
          let p = patchTile[r][ty * ${PER_THREAD} + a];
          for (var b = 0; b < ${PER_THREAD}; b = b + 1) {
            acc[a][b] = acc[a][b] + p * dyTile[r][tx * ${PER_THREAD} + b];
          }
        }
      }
      workgroupBarrier();
    }
    for (var a = 0; a < ${PER_THREAD}; a = a + 1) {
      let k = kBase + ty * ${PER_THREAD} + a;
      for (var b = 0; b < ${PER_THREAD}; b = b + 1) {
        let c = cBase + tx * ${PER_THREAD} + b;
        if (k < uniforms.depth && c < uniforms.outC) {
          setOutputAtIndex((split * uniforms.depth + k) * uniforms.outC + c, acc[a][b]);
        }
      }
    }
  }`;
  }
}

/** dW [kh, kw, Cin, Cout] of x [N, H, W, Cin] and dy [N, Ho, Wo, Cout], on the device. */
export function filterGradImplicitGemm(
  backend: tf.KernelBackend,
  backendName: string,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  filterShape: number[],
  attrs: tf.NamedAttrMap,
): tf.TensorInfo {
  const g = geometry(x.shape, filterShape, attrs);
  const k = new KernelComposer(backend, backendName);
  const rows = g.batch * g.outH * g.outW;
  const depth = g.kh * g.kw * g.inC;
  const splits = splitsOf(rows);
  const rowsPerSplit = Math.ceil(rows / splits);
  const ints = [g.inH, g.inW, g.inC, g.outH, g.outW, g.outC, g.kw, g.strideH, g.strideW, g.padTop, g.padLeft, rows, depth, rowsPerSplit];
  const uniforms: ProgramUniform[] = ints.map((v) => ({ type: 'int32', data: [v] }));
  const partial = k.track((backend as WebGpuBackend).runWebGPUProgram(new FilterGradProgram(splits, depth, g.outC), [x, dy], 'float32', uniforms));
  const dw = splits === 1 ? partial : k.run('Sum', { x: partial }, { axis: [0], keepDims: false });
  return k.finish(k.reshape(dw, [g.kh, g.kw, g.inC, g.outC]));
}
