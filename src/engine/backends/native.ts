import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { usage } from '../../util/errors.ts';

const require = createRequire(import.meta.url);

export const NATIVE_PACKAGE = {
  tensorflow: '@tensorflow/tfjs-node',
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
} as const;
export type NativeBackend = keyof typeof NATIVE_PACKAGE;

export function isInstalled(pkg: string): boolean {
  try {
    require.resolve(`${pkg}/package.json`);
    return true;
  } catch {
    return false;
  }
}

export function cudaGpuVisible(): boolean {
  try {
    execFileSync('nvidia-smi', ['-L'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/** libtensorflow through tfjs-node(-gpu), an optional dependency that needs internet at install. */
export async function startNative(name: NativeBackend): Promise<void> {
  const pkg = NATIVE_PACKAGE[name];
  if (!isInstalled(pkg)) {
    usage(
      `backend '${name}' is not installed: run 'npm install ${pkg}@4.22.0' on a machine with internet access` +
        `${name === 'tensorflow-gpu' ? ' (needs CUDA 11.2 and cuDNN 8.1), or use --backend webgpu' : ', or use --backend wasm'}`,
    );
  }
  try {
    await import(pkg);
  } catch (err) {
    usage(`backend '${name}' failed to load (${(err as Error).message.split('\n')[0]}): reinstall ${pkg} or use --backend wasm`);
  }
  await tf.setBackend('tensorflow');
}
