import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

const require = createRequire(import.meta.url);

/**
 * tfjs-backend-wasm 4.22 runs single-threaded under Node for three reasons, each undone here
 * without patching the package (docs/engine.md, "Compute backends"):
 *  1. WASM_HAS_MULTITHREAD_SUPPORT is hard-coded false when IS_NODE → set the flag.
 *  2. The pthread worker script is handed over as a Blob URL, which Node's Worker refuses → write it
 *     to a real file once and return that path for that Blob; inside the worker, the main script's
 *     Blob likewise resolves to the package's own threaded-simd factory file.
 *  3. The C++ side caps XNNPACK's pool at (logical cores ÷ 2) → report enough cores while it starts.
 * Returns a function that undoes the temporary patches (call it once setBackend has resolved), or a
 * reason why threads cannot start on this machine.
 */
export function prepareWasmThreads(threads: number): { restore: () => void } | { reason: string } {
  if (typeof SharedArrayBuffer === 'undefined') return { reason: 'SharedArrayBuffer is not available' };
  let workerFile: string;
  try {
    workerFile = writeWorkerScript();
  } catch (err) {
    return { reason: `the threaded wasm worker could not be prepared (${(err as Error).message.split('\n')[0]})` };
  }
  const createObjectURL = URL.createObjectURL;
  URL.createObjectURL = function (obj: Blob) {
    return obj?.type === 'application/javascript' ? workerFile : createObjectURL.call(URL, obj);
  } as typeof URL.createObjectURL;
  const cpus = os.cpus;
  os.cpus = () => {
    const c = cpus();
    while (c.length < 2 * threads) c.push(c[0]);
    return c;
  };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  return {
    restore: () => {
      URL.createObjectURL = createObjectURL;
      os.cpus = cpus;
    },
  };
}

function writeWorkerScript(): string {
  const pkg = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const mainScript = path.join(pkg, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const { wasmWorkerContents } = require(path.join(pkg, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents?: string };
  if (typeof wasmWorkerContents !== 'string' || !fs.existsSync(mainScript)) throw new Error('tfjs-backend-wasm layout changed');
  const source =
    wasmWorkerContents.replace(/\n/g, '\\n') + // the escaping tfjs applies before making its Blob
    `\nURL.createObjectURL = () => ${JSON.stringify(mainScript)}; URL.revokeObjectURL = () => {};\n`;
  const hash = crypto.createHash('sha256').update(source).digest('hex').slice(0, 16);
  const file = path.join(os.tmpdir(), `pipeline-wasm-worker-${hash}.js`);
  if (!fs.existsSync(file)) {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, source);
    fs.renameSync(tmp, file);
  }
  return file;
}
