import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// The webgpu backend under Node only supports `await tensor.data()`: a synchronous host read throws
// there. Only the custom wasm/cpu kernels in src/engine/kernels may read synchronously (backend.readSync).
const SRC = path.resolve(import.meta.dirname, '../../src');
const ALLOWED = path.join(SRC, 'engine', 'kernels') + path.sep;
const SYNC_READ = /\b(dataSync|arraySync|bufferSync|readSync)\s*\(|\.print\s*\(/;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : /\.(ts|mts|js|mjs)$/.test(e.name) ? [p] : [];
  });
}

describe('no synchronous tensor reads', () => {
  it('src reads tensors only with await data(), outside src/engine/kernels', () => {
    const offenders = sourceFiles(SRC)
      .filter((f) => !f.startsWith(ALLOWED))
      .flatMap((f) =>
        fs
          .readFileSync(f, 'utf8')
          .split('\n')
          .flatMap((line, i) => (SYNC_READ.test(line) ? [`${path.relative(SRC, f)}:${i + 1}: ${line.trim()}`] : [])),
      );
    expect(offenders).toEqual([]);
  });
});
