import * as tf from '@tensorflow/tfjs';
import { KernelComposer } from '../compose.ts';
import { geometry, isPointwise, outputPhases } from '../conv-backprop.ts';
import { packPhaseFilter, padSpatial, runConv2D } from './conv2d.ts';
import { simdKernels } from './simd-kernels.ts';

const SIMD = Symbol('pipeline simd input gradient');

/**
 * Conv2DBackpropInput by conv2d.wat on all threads, for float32 input gradients with channels in 8s
 * (the kernel registered before it runs the rest, and 1×1 stride-1 ones, which are one matrix
 * product). The same polyphase form as kernels/conv-backprop.ts — one valid conv of dy per output
 * phase with the flipped taps that reach it, hence the same bits — but dy is padded once for all
 * phases and each phase's conv writes its positions of dx in place, so the host's slicing and
 * interleaving, which stayed on one thread, are gone.
 */
export function registerSimdInputGrad(backendName: string): void {
  const previous = tf.getKernel('Conv2DBackpropInput', backendName);
  if (previous === undefined || SIMD in previous.kernelFunc) return;
  const kernelFunc: tf.KernelFunc = (args) => {
    const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const pool = simdKernels();
    if (pool === undefined || dy.dtype !== 'float32' || filter.dtype !== 'float32' || (attrs.dataFormat ?? 'NHWC') !== 'NHWC') return previous.kernelFunc(args);
    const g = geometry(attrs.inputShape, filter.shape, args.attrs!);
    if (g.inC % 8 !== 0 || (isPointwise(g) && g.strideH === 1 && g.strideW === 1)) return previous.kernelFunc(args);
    const phases = outputPhases(g);
    // One zero-padded dy that every phase's window lies in: a phase's window starts `before` rows
    // above dy (below it where negative: dy cropped) and ends `after` rows below.
    const top = Math.max(0, ...phases.map((p) => p.py.before));
    const left = Math.max(0, ...phases.map((p) => p.px.before));
    const hp = top + g.outH + Math.max(0, ...phases.map((p) => p.py.after));
    const wp = left + g.outW + Math.max(0, ...phases.map((p) => p.px.after));
    const k = new KernelComposer(args.backend as tf.KernelBackend, backendName);
    const inPlace = top === 0 && left === 0 && hp <= g.outH && wp <= g.outW;
    const dyp = inPlace ? dy : k.alloc([g.batch, hp, wp, g.outC]);
    const packed = phases.map(({ py, px }) => k.alloc([g.inC / 8, py.taps, px.taps, g.outC, 8]));
    const dx = k.alloc([g.batch, g.inH, g.inW, g.inC]);
    // Views after the last allocation: the heap may move when it grows.
    const at = (t: tf.TensorInfo) => k.view(t).byteOffset;
    if (!inPlace) padSpatial(pool, at(dy), dy.shape, top, left, hp, wp, at(dyp));
    phases.forEach(({ r, c, py, px }, i) => packPhaseFilter(pool, at(filter), filter.shape, r, c, g.strideH, g.strideW, py.taps, px.taps, at(packed[i])));
    const covered = phases.reduce((n, { py, px }) => n + py.count * px.count, 0);
    if (covered < g.inH * g.inW) k.view(dx).fill(0); // positions no tap reaches (a 1×1 filter with stride 2)
    const base = at(dyp);
    const [rows, cols] = inPlace ? [g.outH, g.outW] : [hp, wp];
    phases.forEach(({ py, px }, i) => {
      const x = base + ((top - py.before) * cols + (left - px.before)) * g.outC * 4;
      runConv2D(
        pool,
        { x, rows, cols, cin: g.outC, packed: at(packed[i]), kh: py.taps, kw: px.taps, sh: 1, sw: 1 },
        {
          y: at(dx),
          n: g.batch,
          ho: py.count,
          wo: px.count,
          cout: g.inC,
          into: { h: g.inH, w: g.inW, y0: py.first, x0: px.first, sy: g.strideH, sx: g.strideW },
        },
      );
    });
    return k.finish(dx);
  };
  Object.defineProperty(kernelFunc, SIMD, { value: true });
  tf.unregisterKernel('Conv2DBackpropInput', backendName);
  tf.registerKernel({ ...previous, kernelFunc });
}
