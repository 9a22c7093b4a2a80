#!/usr/bin/env bash
# Prepares an unpacked pipeline pack (scripts/gpu/pack.sh) on an offline linux-x64 GPU server: no Node,
# no Vulkan loader and no root needed. From the pack folder:
#
#   source setup.sh            set up (first time), then export the environment into this shell:
#                              `pipeline ...` / `./pipeline ...` and `node` work from then on
#   bash setup.sh              set up only; ./pipeline loads the environment itself on every call
#   bash setup.sh --check      set up, then ask Dawn (WebGPU) which GPU adapter it gets; exit 1 if none
#
# What it does (once; again only when node.xz, app.tar.xz or debs/ change):
#  - node.xz -> ./node; app.tar.xz -> ./app (xz, or python3's lzma where xz is missing)
#  - debs/*.deb -> .local/root with dpkg-deb -x (or python3), then .local/lib: links to those libraries
#    the server does not have itself (ldconfig cache, LD_LIBRARY_PATH, the NVIDIA library folder), so a
#    machine with its own Vulkan loader or X libraries keeps using its own
#  - finds NVIDIA's Vulkan driver manifest (nvidia_icd*.json under /usr/local/nvidia/share, /etc,
#    /usr/share, /usr/local/share, XDG_DATA_DIRS; writes one if only libGLX_nvidia.so.0 is there) and the
#    folder of its library; respects VK_ICD_FILENAMES / VK_DRIVER_FILES if already set
#  - writes .local/env.sh: LD_LIBRARY_PATH, VK_ICD_FILENAMES, VK_DRIVER_FILES, PATH (+ this folder)
# Without an NVIDIA driver nothing Vulkan-related is set: the system's own loader and drivers are used.

if [ "${1:-}" != --prepare ]; then
  # ---- the part that may be sourced (bash or zsh): prepare in a child bash, then load .local/env.sh ----
  _pp_self=${BASH_SOURCE[0]:-$0}
  case $_pp_self in */*) _pp_here=$(cd "${_pp_self%/*}" && pwd) ;; *) _pp_here=$PWD ;; esac
  if [ ! -f "$_pp_here/node.xz" ] && [ -f "$PWD/node.xz" ]; then _pp_here=$PWD; fi
  if bash "$_pp_here/setup.sh" --prepare; then
    . "$_pp_here/.local/env.sh"
    _pp_rc=0
    if [ "${1:-}" = --check ]; then
      "$_pp_here/node" --input-type=module -e '
        const { create, globals } = await import(process.argv[1]);
        Object.assign(globalThis, globals);
        const adapter = await create([]).requestAdapter({ powerPreference: "high-performance" });
        if (!adapter) { console.log("webgpu: Dawn found no Vulkan adapter (pipeline --backend wasm still works)"); process.exit(1); }
        const i = adapter.info;
        console.log(`webgpu: adapter ${JSON.stringify({ vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description })}`);
        process.exit(0);' "$_pp_here/app/node_modules/webgpu/index.js" || _pp_rc=1
    fi
  else
    _pp_rc=1
  fi
  unset _pp_self _pp_here
  return $_pp_rc 2>/dev/null || exit $_pp_rc
fi

# ---- bash setup.sh --prepare: the work, in strict mode ----
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
die() { echo "setup: $*" >&2; exit 1; }
[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || die "this pack is for linux-x64, not $(uname -s)-$(uname -m)"
for f in node.xz app.tar.xz debs; do [ -e "$f" ] || die "$here/$f is missing: is this an unpacked pipeline pack?"; done
[ -w . ] || die "$here is not writable: copy the pack to a writable folder"
mkdir -p .local/stamps
has() { command -v "$1" >/dev/null 2>&1; }
py=$(command -v python3 || true)

# The stamp of a source: size and mtime of each file, so a fresh copy of the pack is unpacked again.
stamp_of() { find "$@" -maxdepth 1 -type f -printf '%f %s %T@\n' | sort; }
fresh() { [ -f ".local/stamps/$1" ] && [ "$(cat ".local/stamps/$1")" = "$(stamp_of "${@:2}")" ]; }
mark() { stamp_of "${@:2}" >".local/stamps/$1"; }

unxz_to() { # SRC DST
  if has xz; then xz -dc "$1" >"$2"
  elif [ -n "$py" ]; then "$py" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  else die "needs xz or python3 to unpack $1"; fi
}
untar_xz() { # ARCHIVE DIR
  if has xz && has tar; then xz -dc "$1" | tar -x -C "$2"
  elif [ -n "$py" ]; then "$py" -c '
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    t.extractall(sys.argv[2], **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))' "$1" "$2"
  else die "needs xz and tar, or python3, to unpack $1"; fi
}
undeb() { # DEB DIR: dpkg-deb -x, else the ar archive read by python3 (data.tar.xz/gz/bz2)
  if has dpkg-deb; then dpkg-deb -x "$1" "$2"
  elif [ -n "$py" ]; then "$py" -c '
import io, sys, tarfile
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"!<arch>\n", "not a .deb"
pos = 8
while pos < len(data):
    name, size = data[pos:pos + 16].decode().strip().rstrip("/"), int(data[pos + 48:pos + 58])
    if name.startswith("data.tar"):
        with tarfile.open(fileobj=io.BytesIO(data[pos + 60:pos + 60 + size])) as t:
            t.extractall(sys.argv[2], **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))
        break
    pos += 60 + size + (size & 1)
else:
    sys.exit("no data.tar in " + sys.argv[1])' "$1" "$2"
  else die "needs dpkg-deb or python3 to unpack $1"; fi
}

if [ ! -x node ] || ! fresh node node.xz; then
  unxz_to node.xz node.tmp
  chmod +x node.tmp
  mv -f node.tmp node
  mark node node.xz
fi
./node --version >/dev/null 2>&1 || die "the packed node does not run here ($(./node --version 2>&1 | head -n1)); it needs glibc >= 2.28 and libstdc++"

if [ ! -f app/bin/pipeline.mjs ] || ! fresh app app.tar.xz; then
  rm -rf .local/app.tmp && mkdir -p .local/app.tmp
  untar_xz app.tar.xz .local/app.tmp
  rm -rf app && mv .local/app.tmp/app app && rm -rf .local/app.tmp
  mark app app.tar.xz
fi

if [ ! -d .local/root ] || ! fresh debs debs; then
  rm -rf .local/root && mkdir -p .local/root
  for deb in debs/*.deb; do undeb "$deb" .local/root; done
  mark debs debs
fi

# ---- NVIDIA's Vulkan driver: manifest and library folder ----
libdirs=(/usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib/x86_64-linux-gnu/nvidia/current /usr/lib/nvidia /usr/local/lib)
ldcache=$( { ldconfig -p || /sbin/ldconfig -p || /usr/sbin/ldconfig -p; } 2>/dev/null | awk '/=>/ {print $1}' | sort -u || true)
in_cache() { grep -qxF "$1" <<<"$ldcache"; }
user_vk=${VK_ICD_FILENAMES:-${VK_DRIVER_FILES:-}}
icd='' nvdir='' note=''
if [ -n "$user_vk" ]; then
  icd=$user_vk note="Vulkan driver from the environment: $user_vk"
else
  search=(/usr/local/nvidia/share/vulkan/icd.d /etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/share/vulkan/icd.d /usr/local/nvidia/icd.d)
  IFS=: read -ra xdg <<<"${XDG_DATA_DIRS:-}"
  for d in "${xdg[@]}"; do [ -n "$d" ] && search+=("$d/vulkan/icd.d"); done
  for d in "${search[@]}"; do
    for f in "$d"/nvidia_icd*.json; do [ -f "$f" ] && { icd=$f; break 2; }; done
  done
  lib=libGLX_nvidia.so.0
  if [ -n "$icd" ]; then
    lib=$(sed -n 's/.*"library_path"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$icd" | head -n1)
    [ -n "$lib" ] || lib=libGLX_nvidia.so.0
  fi
  # the folder the driver library is loaded from, when the loader would not find it by itself
  if [[ $lib == /* ]]; then
    [ -f "$lib" ] && nvdir=$(dirname "$lib")
  elif ! in_cache "$lib"; then
    near=$(cd "$(dirname "${icd:-/nonexistent/x/y/z}")/../../.." 2>/dev/null && pwd || true)
    for d in ${near:+"$near/lib64"} "${libdirs[@]}"; do [ -e "$d/$lib" ] && { nvdir=$d; break; }; done
  fi
  if [ -z "$icd" ] && { [ -n "$nvdir" ] || in_cache "$lib"; }; then
    # the driver's library is here but its manifest is not (container without the graphics capability files)
    mkdir -p .local/icd
    icd=$here/.local/icd/nvidia_icd.json
    printf '{ "file_format_version": "1.0.1", "ICD": { "library_path": "%s", "api_version": "1.3.0" } }\n' "${nvdir:+$nvdir/}$lib" >"$icd"
    note="wrote $icd for $lib (no NVIDIA manifest found)"
  elif [ -n "$icd" ]; then
    note="NVIDIA Vulkan driver $icd ($lib${nvdir:+ in $nvdir})"
    if [[ $lib != /* ]] && [ -z "$nvdir" ] && ! in_cache "$lib"; then note="$note; WARNING: $lib not found, webgpu will not start"; fi
  else
    note="no NVIDIA Vulkan driver found: webgpu uses whatever driver the system's Vulkan loader finds (--backend wasm always works)"
  fi
fi

# ---- .local/lib: the packed libraries this machine lacks ----
rm -rf .local/lib && mkdir -p .local/lib
IFS=: read -ra userdirs <<<"${LD_LIBRARY_PATH:-}"
lacking=()
for so in .local/root/usr/lib/x86_64-linux-gnu/*.so.[0-9] .local/root/usr/lib/x86_64-linux-gnu/*.so.[0-9][0-9] .local/root/lib/x86_64-linux-gnu/*.so.[0-9]; do
  [ -e "$so" ] || continue
  name=$(basename "$so") found=''
  in_cache "$name" && found=1
  for d in ${nvdir:+"$nvdir"} "${userdirs[@]}"; do [ -n "$d" ] && [ -e "$d/$name" ] && found=1; done
  [ -n "$found" ] || { ln -s "$here/$so" ".local/lib/$name"; lacking+=("$name"); }
done

q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
{
  echo "# written by setup.sh on $(hostname 2>/dev/null || echo this machine); sourced by ./pipeline and by 'source setup.sh'"
  echo "PIPELINE_PACK=$(q "$here"); export PIPELINE_PACK"
  ld="${lacking[*]:+$here/.local/lib}"
  [ -n "$nvdir" ] && ld="${ld:+$ld:}$nvdir"
  if [ -n "$ld" ]; then
    echo "case \":\${LD_LIBRARY_PATH:-}:\" in *:$(q "$ld"):*) ;; *) LD_LIBRARY_PATH=$(q "$ld")\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}; export LD_LIBRARY_PATH ;; esac"
  fi
  if [ -n "$icd" ] && [ -z "$user_vk" ]; then
    echo "VK_ICD_FILENAMES=$(q "$icd"); VK_DRIVER_FILES=$(q "$icd"); export VK_ICD_FILENAMES VK_DRIVER_FILES"
  fi
  echo "XDG_RUNTIME_DIR=\${XDG_RUNTIME_DIR:-/tmp}; export XDG_RUNTIME_DIR"
  echo "case \":\$PATH:\" in *:$(q "$here"):*) ;; *) PATH=$(q "$here"):\$PATH; export PATH ;; esac"
} >.local/env.sh

echo "pipeline pack ready: node $(./node --version); $note; from the pack: ${lacking[*]:-no libraries (all present here)}"
