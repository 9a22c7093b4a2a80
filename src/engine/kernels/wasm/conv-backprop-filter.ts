import * as tf from '@tensorflow/tfjs';
import { KernelComposer } from '../compose.ts';
import { geometry } from '../conv-backprop.ts';
import { cropChannels, padChannels } from '../host-layout.ts';
import { simdKernels } from './simd-kernels.ts';

const SIMD = Symbol('pipeline simd filter gradient');

/**
 * A chunk of output rows, which every tile sweeps before the next chunk, holds this many bytes of x
 * and dy (cache-resident), or more rows where rows are short: each tile's set-up per chunk must be
 * spread over enough positions (resnet18 w64 shapes, 1 thread: 64 KB best at 32×32, 256 KB at 4×4).
 */
const CHUNK_BYTES = 64 * 1024;
const MIN_CHUNK_POSITIONS = 64;
/** Below this many multiply-adds a block costs more to hand to another thread than it saves. */
const MIN_MACS_PER_BLOCK = 1 << 18;

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/**
 * Conv2DBackpropFilter by the project's SIMD kernel (filter-grad.wat) on all threads: it reads x and
 * dy in place (NHWC), so the transposes and the packing of dy as a "filter" that the composed
 * dilated-conv form pays on one thread are gone. Without the kernels started (see simd-kernels.ts)
 * the kernel registered before it runs.
 */
export function registerSimdFilterGrad(backendName: string): void {
  const previous = tf.getKernel('Conv2DBackpropFilter', backendName);
  if (previous === undefined || SIMD in previous.kernelFunc) return;
  const kernelFunc: tf.KernelFunc = (args) => {
    const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const pool = simdKernels();
    if (pool === undefined || x.dtype !== 'float32' || dy.dtype !== 'float32') return previous.kernelFunc(args);
    const g = geometry(x.shape, (args.attrs as unknown as tf.Conv2DBackpropFilterAttrs).filterShape, args.attrs!);
    const k = new KernelComposer(args.backend as tf.KernelBackend, backendName);
    // The kernel takes channels in 4s (input) and 8s (output): narrower tensors are widened with zeros.
    const cin = roundUp(g.inC, 4);
    const cout = roundUp(g.outC, 8);
    const xs = cin === g.inC ? x : k.alloc([g.batch, g.inH, g.inW, cin]);
    const dys = cout === g.outC ? dy : k.alloc([g.batch, g.outH, g.outW, cout]);
    const dws = k.alloc([g.kh, g.kw, cin, cout]);
    const dw = cin === g.inC && cout === g.outC ? dws : k.alloc([g.kh, g.kw, g.inC, g.outC]);
    // Views after the last allocation: the heap may move when it grows.
    if (xs !== x) padChannels(k.view(x), g.batch * g.inH * g.inW, g.inC, cin, k.view(xs));
    if (dys !== dy) padChannels(k.view(dy), g.batch * g.outH * g.outW, g.outC, cout, k.view(dys));
    const at = (t: tf.TensorInfo) => k.view(t).byteOffset;
    const tiles = g.kh * g.kw * (cin / 4) * (cout / 8);
    const rowBytes = (g.outW * cout + g.strideH * g.inW * cin) * 4;
    const rows = Math.max(1, Math.ceil(MIN_CHUNK_POSITIONS / g.outW), Math.floor(CHUNK_BYTES / rowBytes));
    const macsPerTile = g.batch * g.outH * g.outW * 32;
    pool.run(
      'filterGrad',
      [at(xs), at(dys), at(dws), g.batch, g.inH, g.inW, cin, g.outH, g.outW, cout, g.kw, g.strideH, g.strideW, g.padTop, g.padLeft, rows],
      tiles,
      Math.ceil(MIN_MACS_PER_BLOCK / macsPerTile),
    );
    if (dw !== dws) cropChannels(k.view(dws), g.kh * g.kw, cin, cout, g.inC, g.outC, k.view(dw));
    return k.finish(dw);
  };
  Object.defineProperty(kernelFunc, SIMD, { value: true });
  tf.unregisterKernel('Conv2DBackpropFilter', backendName);
  tf.registerKernel({ ...previous, kernelFunc });
}
