/**
 * Exports resnet20 θ₀ (every tensor, BN running stats included), a fixed input batch, and our logits,
 * g = ∇θ L and Hg (GraSP: L = mean CE(f(x)/T, y), T = 200) in BN eval and BN train mode, so that
 * test/reference/compare_resnet20.py can recompute them in PyTorch float64/float32 and measure errors.
 *
 *   npx tsx test/reference/export-resnet20.ts <outDir> --tag <name> [--backend wasm] [--threads 1]
 *       [--batch 40] [--width 16] [--seed 0] [--input synthetic|normal]
 *
 * The batch is deterministic, so every backend sees the same bits: --input synthetic (default) takes
 * the first batch/10 examples per class of the synthetic dataset at 32×32×3 (image-like: smooth class
 * prototypes + noise in [0, 1], normalized), --input normal draws x ~ N(0, 1) from a fixed integer
 * generator with y = i mod 10. g and Hg go through computeFeatures (src/scoring/features.ts), exactly as
 * `pipeline irp` / `prune --dump-scores` compute the features.
 *
 * Files: theta0.safetensors, sample.safetensors (written by every run; identical by construction),
 * ours-<tag>.safetensors with `<mode>.logits`, `<mode>.g.<tensor>`, `<mode>.hg.<tensor>` and
 * `<mode>.relu<i>` (U8, 1 where the i-th ReLU's input is > 0, NHWC, forward order) for mode eval|train, and ours-<tag>.json (backend, threads, prunable names in forward order).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend.ts';
import { saveSafetensors, type SafeTensor } from '../../src/io/safetensors.ts';
import { exportArgs, f32, runExport } from './export-common.ts';
import { createModel, initParams } from '../../src/models/index.ts';
import { computeFeatures } from '../../src/scoring/features.ts';
import { loadDataset } from '../../src/data/registry.ts';
import { sampleChunks, scoringSample } from '../../src/data/scoring-sample.ts';

function parseArgsResnet(argv: string[]) {
  const a = exportArgs(
    argv,
    { tag: '', backend: 'wasm', threads: '1', batch: '40', width: '16', seed: '0', input: 'synthetic' },
    'npx tsx test/reference/export-resnet20.ts <outDir> --tag <name> [--backend wasm] [--threads 1] [--batch 40]',
  );
  return { ...a, tag: a.tag || `${a.backend}-t${a.threads}`, batch: Number(a.batch), width: Number(a.width), seed: Number(a.seed) };
}

/** Deterministic N(0, 1) values: 32-bit xorshift → Box–Muller, rounded to float32. */
export function normalBatch(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761 + 0x9e3779b9) >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u()));
    const t = 2 * Math.PI * u();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/**
 * Runs fn with the backend's Relu kernel wrapped to record, for every call in order, which inputs are
 * > 0 (the ReLU on/off pattern; NHWC). The same kernels run inside computeFeatures, so the pattern is
 * the one our g and Hg were differentiated at.
 */
function withReluRecorder<T>(backendName: string, signs: Uint8Array[], shapes: number[][], fn: () => T): T {
  const orig = tf.getKernel('Relu', backendName);
  if (!orig) throw new Error(`no Relu kernel on ${backendName}`);
  tf.unregisterKernel('Relu', backendName);
  tf.registerKernel({
    ...orig,
    kernelFunc: (args) => {
      const xi = (args.inputs as { x: tf.TensorInfo }).x;
      const v = (args.backend as tf.KernelBackend).readSync(xi.dataId) as Float32Array;
      signs.push(Uint8Array.from(v, (a) => (a > 0 ? 1 : 0)));
      shapes.push([...xi.shape]);
      return orig.kernelFunc(args);
    },
  });
  try {
    return fn();
  } finally {
    tf.unregisterKernel('Relu', backendName);
    tf.registerKernel(orig);
  }
}

async function main(): Promise<void> {
  const o = parseArgsResnet(process.argv.slice(2));
  const backend = await initBackend(o.backend, { threads: o.threads });
  fs.mkdirSync(o.out, { recursive: true });
  const model = createModel('resnet20', { width: o.width, inputShape: [32, 32, 3], numClasses: 10 });
  const params = initParams(model, o.seed);
  let xv: Float32Array;
  let yv: Int32Array;
  if (o.input === 'normal') {
    xv = normalBatch(o.batch * 32 * 32 * 3, 12345);
    yv = Int32Array.from({ length: o.batch }, (_, i) => i % 10);
  } else if (o.input === 'synthetic') {
    // Image-like: the synthetic dataset at 32×32×3 (smooth class prototypes + noise, clipped to [0, 1]),
    // normalized and batched by the data layer exactly as a scoring sample is.
    if (o.batch % 10 !== 0) throw new Error('--input synthetic needs --batch a multiple of 10');
    const dataset = loadDataset('synthetic', { synthetic: { shape: [32, 32, 3], seed: 0 } });
    const sample = scoringSample(dataset, o.batch / 10);
    const [{ x: bx, y: by }] = [...sampleChunks(dataset, sample, o.batch)];
    xv = Float32Array.from(bx.dataSync() as Float32Array);
    yv = Int32Array.from(by.dataSync() as Int32Array);
    tf.dispose([bx, by]);
  } else throw new Error(`--input must be normal or synthetic, got ${o.input}`);
  saveSafetensors(path.join(o.out, 'theta0.safetensors'), new Map(model.specs.map((s) => [s.name, f32(params[s.name])])), {
    model: 'resnet20',
    width: String(o.width),
    seed: String(o.seed),
    layout: 'tfjs: conv [kh, kw, cin, cout] (torch: permute(3, 2, 0, 1)), dense [in, out] (torch: .T)',
  });
  saveSafetensors(
    path.join(o.out, 'sample.safetensors'),
    {
      x: { dtype: 'F32', shape: [o.batch, 32, 32, 3], data: xv },
      y: { dtype: 'I32', shape: [o.batch], data: yv },
    },
    { input: o.input, layout: 'x: NHWC, normalized' },
  );
  const x = tf.tensor4d(xv, [o.batch, 32, 32, 3]);
  const y = tf.tensor1d(yv, 'int32');
  const data = { n: o.batch, chunks: () => [{ x: tf.clone(x), y: tf.clone(y) }] };
  const out = new Map<string, SafeTensor>();
  const seconds: Record<string, number> = {};
  for (const mode of ['eval', 'train'] as const) {
    const t0 = performance.now();
    const signs: Uint8Array[] = [];
    const shapes: number[][] = [];
    const logits = withReluRecorder(backend.tfjsBackend, signs, shapes, () => tf.tidy(() => model.forward(params, x, mode === 'train').logits));
    out.set(`${mode}.logits`, f32(logits));
    logits.dispose();
    signs.forEach((m, i) => out.set(`${mode}.relu${i}`, { dtype: 'U8', shape: shapes[i], data: m }));
    const f = await computeFeatures(model, params, data, { bnMode: mode, temperature: 200, withHg: true });
    for (const p of model.prunable) {
      out.set(`${mode}.g.${p.name}`, { dtype: 'F32', shape: [...p.shape], data: f.grad.get(p.name)! });
      out.set(`${mode}.hg.${p.name}`, { dtype: 'F32', shape: [...p.shape], data: f.hg!.get(p.name)! });
    }
    seconds[mode] = (performance.now() - t0) / 1000;
  }
  saveSafetensors(path.join(o.out, `ours-${o.tag}.safetensors`), out, { backend: backend.name, threads: String(backend.threads) });
  fs.writeFileSync(
    path.join(o.out, `ours-${o.tag}.json`),
    JSON.stringify(
      {
        tag: o.tag,
        input: o.input,
        backend: backend.name,
        threads: backend.threads,
        batch: o.batch,
        width: o.width,
        seed: o.seed,
        temperature: 200,
        prunable: model.prunable.map((p) => p.name),
        seconds,
      },
      null,
      2,
    ) + '\n',
  );
  console.error(`${o.tag}: ${backend.name} threads=${backend.threads} eval ${seconds.eval.toFixed(1)} s, train ${seconds.train.toFixed(1)} s`);
  tf.dispose([x, y, ...Object.values(params)]);
}

runExport(main);
