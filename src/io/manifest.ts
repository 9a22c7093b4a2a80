/** `manifest.json`: everything needed to tell later how a run's outputs were produced. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJsonAtomic } from './atomic.ts';

export const MANIFEST_FILE = 'manifest.json';

/** Dependencies whose versions change results or speed; absent optional ones are recorded as null. */
const TRACKED_PACKAGES = [
  '@tensorflow/tfjs',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-backend-webgpu',
  'webgpu',
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu',
  'apache-arrow',
];

export interface ManifestInput {
  command: string;
  config: unknown;
  /** The config after defaults and environment were applied. */
  resolved: unknown;
  backend: unknown;
  /** Durations in seconds (or any numbers the caller documents), e.g. `{ train: 812.4 }`. */
  timings: Record<string, number>;
  extra?: Record<string, unknown>;
  /** Defaults to the start of this process. */
  startedAt?: Date;
}

export interface Manifest {
  package: { name: string; version: string };
  command: string;
  argv: string[];
  cwd: string;
  config: unknown;
  resolved: unknown;
  backend: unknown;
  timings: Record<string, number>;
  startedAt: string;
  finishedAt: string;
  versions: Record<string, string | null>;
  host: { platform: string; arch: string; cpus: number; cpuModel: string | null; memoryBytes: number };
  git: { commit: string; dirty: boolean } | null;
  extra?: Record<string, unknown>;
}

export function buildManifest(input: ManifestInput): Manifest {
  const startedAt = input.startedAt ?? new Date(Date.now() - process.uptime() * 1000);
  const versions: Record<string, string | null> = { node: process.versions.node };
  for (const name of TRACKED_PACKAGES) versions[name] = installedVersion(name);
  const cpuList = cpus();
  return {
    package: projectPackage(),
    command: input.command,
    argv: process.argv.slice(),
    cwd: process.cwd(),
    config: input.config,
    resolved: input.resolved,
    backend: input.backend,
    timings: input.timings,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    versions,
    host: {
      platform: process.platform,
      arch: process.arch,
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model ?? null,
      memoryBytes: totalmem(),
    },
    git: gitState(process.cwd()),
    ...(input.extra ? { extra: input.extra } : {}),
  };
}

/** Writes `<dir>/manifest.json` atomically and returns what it wrote. */
export function writeManifest(dir: string, input: ManifestInput): Manifest {
  const manifest = buildManifest(input);
  writeJsonAtomic(join(dir, MANIFEST_FILE), manifest);
  return manifest;
}

function projectPackage(): { name: string; version: string } {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      return { name: pkg.name ?? 'unknown', version: pkg.version ?? 'unknown' };
    }
    if (dirname(dir) === dir) return { name: 'unknown', version: 'unknown' };
  }
}

/** Looks in the node_modules folders Node would search, since packages' `exports` may hide package.json. */
function installedVersion(name: string): string | null {
  const searchPaths = createRequire(import.meta.url).resolve.paths(name) ?? [];
  for (const nodeModules of searchPaths) {
    const file = join(nodeModules, name, 'package.json');
    if (!existsSync(file)) continue;
    try {
      return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? null;
    } catch {
      return null;
    }
  }
  return null;
}

function gitState(cwd: string): { commit: string; dirty: boolean } | null {
  // GIT_OPTIONAL_LOCKS=0 keeps `git status` from refreshing (writing) the index.
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' },
      timeout: 5000,
    }).trim();
  try {
    const commit = git('rev-parse', 'HEAD');
    const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
    return { commit, dirty };
  } catch {
    return null;
  }
}
