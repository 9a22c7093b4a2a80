import fs from 'node:fs';
import path from 'node:path';
import { makeDirs } from '../io/atomic.ts';

const BLOCK = 512;

export interface TarEntry {
  name: string;
  type: 'file' | 'directory' | 'other';
  data: Uint8Array;
}

/** Thrown for a malformed archive; callers turn it into a one-line usage error naming the archive. */
export class TarFormatError extends Error {}

function text(block: Uint8Array, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return Buffer.from(end < 0 ? field : field.subarray(0, end)).toString('utf8');
}

function octal(block: Uint8Array, start: number, length: number): number {
  if (block[start] & 0x80) {
    // GNU base-256 encoding for values that do not fit in octal
    let v = block[start] & 0x7f;
    for (let i = 1; i < length; i++) v = v * 256 + block[start + i];
    return v;
  }
  const s = text(block, start, length).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

function checksumOk(block: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  return sum === octal(block, 148, 8);
}

function paxPath(data: Uint8Array): string | undefined {
  // records are "<length> <key>=<value>\n"
  for (const record of Buffer.from(data).toString('utf8').split('\n')) {
    const m = /^\d+ path=(.*)$/.exec(record);
    if (m) return m[1];
  }
  return undefined;
}

/** Parses an uncompressed (ustar / GNU / pax) tar archive. */
export function* readTar(archive: Uint8Array): Generator<TarEntry> {
  let offset = 0;
  let longName: string | undefined;
  while (offset + BLOCK <= archive.length) {
    const header = archive.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) return;
    if (!checksumOk(header)) throw new TarFormatError(`bad tar header checksum at byte ${offset}`);
    const size = octal(header, 124, 12);
    const flag = String.fromCharCode(header[156]);
    const prefix = text(header, 257, 6).startsWith('ustar') ? text(header, 345, 155) : '';
    const dataStart = offset + BLOCK;
    if (dataStart + size > archive.length) throw new TarFormatError(`tar entry at byte ${offset} runs past the end of the archive`);
    const data = archive.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (flag === 'L') {
      longName = text(data, 0, data.length);
      continue;
    }
    if (flag === 'x') {
      longName = paxPath(data) ?? longName;
      continue;
    }
    if (flag === 'g') continue;
    const name = longName ?? (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100));
    longName = undefined;
    const type = flag === '0' || flag === '\0' ? 'file' : flag === '5' ? 'directory' : 'other';
    yield { name, type, data };
  }
  throw new TarFormatError('tar archive ends without its end-of-archive blocks (truncated?)');
}

/** Extracts regular files and directories into `dest`; links and devices are skipped. Returns the file paths written. */
export function extractTar(archive: Uint8Array, dest: string): string[] {
  const written: string[] = [];
  const root = path.resolve(dest);
  for (const entry of readTar(archive)) {
    if (entry.type === 'other') continue;
    const target = path.resolve(root, entry.name);
    if (path.isAbsolute(entry.name) || (target !== root && !target.startsWith(root + path.sep))) {
      throw new TarFormatError(`tar entry "${entry.name}" points outside the destination`);
    }
    if (entry.type === 'directory') {
      makeDirs(target);
      continue;
    }
    makeDirs(path.dirname(target));
    fs.writeFileSync(target, entry.data);
    written.push(target);
  }
  return written;
}
