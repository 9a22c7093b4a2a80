#!/usr/bin/env node
// The npm mirror this project is developed behind serves only the linux-gnu builds of packages that
// ship per-platform binaries (rollup, esbuild, …). `npm install` then writes a lockfile whose
// optionalDependencies point at entries it could not resolve, and `npm ci` refuses it ("Missing: …
// from lock file"). This adds those entries as optional, platform-tagged packages: npm skips them on
// other platforms and fetches them normally (by name and version) where they apply.
// Run after every `npm install` that changes package-lock.json.
import fs from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const packages = lock.packages;

const OS = ['android', 'darwin', 'freebsd', 'linux', 'netbsd', 'openbsd', 'openharmony', 'sunos', 'win32', 'aix', 'cygwin'];
const CPU = {
  arm: 'arm',
  'arm-eabi': 'arm',
  arm64: 'arm64',
  x64: 'x64',
  ia32: 'ia32',
  loong64: 'loong64',
  ppc64: 'ppc64',
  riscv64: 'riscv64',
  s390x: 's390x',
  mips64el: 'mips64el',
  wasm32: 'wasm32',
};

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const osIndex = parts.findIndex((p) => OS.includes(p));
  if (osIndex < 0) return null;
  const rest = parts.slice(osIndex + 1);
  const cpuKey = rest.find((p, i) => CPU[p] || CPU[`${p}-${rest[i + 1]}`]);
  const cpu = cpuKey ? CPU[cpuKey] : undefined;
  const libc = rest.includes('musl') || rest.includes('musleabihf') ? 'musl' : rest.some((p) => p.startsWith('gnu')) ? 'glibc' : undefined;
  return { os: [parts[osIndex]], ...(cpu ? { cpu: [cpu] } : {}), ...(libc ? { libc: [libc] } : {}) };
}

let added = 0;
for (const [where, pkg] of Object.entries(packages)) {
  for (const [dep, range] of Object.entries(pkg.optionalDependencies ?? {})) {
    const base = where ? `${where}/node_modules/${dep}` : `node_modules/${dep}`;
    if (packages[base] || packages[`node_modules/${dep}`]) continue;
    const platform = platformOf(dep);
    if (!platform || !/^\d+\.\d+\.\d+/.test(range)) continue;
    packages[`node_modules/${dep}`] = { version: range, optional: true, ...platform };
    added++;
  }
}
fs.writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`complete-lockfile: added ${added} platform entries`);
