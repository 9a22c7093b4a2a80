import { parseArgs } from 'node:util';
import type * as tf from '@tensorflow/tfjs';
import { shutdownBackend } from '../../src/engine/backend.ts';
import type { SafeTensor } from '../../src/io/safetensors.ts';

/** A tensor's values as an F32 safetensors entry (host copy). */
export const f32 = (t: tf.Tensor): SafeTensor => ({ dtype: 'F32', shape: [...t.shape], data: Float32Array.from(t.dataSync() as Float32Array) });

/** `<outDir> --name value …` with string options and their defaults; throws `usage` when outDir is missing. */
export function exportArgs<K extends string>(argv: string[], defaults: Record<K, string>, usage: string): Record<K, string> & { out: string } {
  const options = Object.fromEntries(Object.entries(defaults).map(([k, v]) => [k, { type: 'string' as const, default: v as string }]));
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true });
  if (positionals.length !== 1) throw new Error(`usage: ${usage}`);
  return { ...(values as Record<K, string>), out: positionals[0] };
}

/**
 * Runs an export's main, then stops the backend (wasm's thread pool and Dawn keep Node alive
 * otherwise, so the script would never exit); on an error prints it and exits 1.
 */
export function runExport(main: () => Promise<void>): void {
  main().then(shutdownBackend, (err) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  });
}
