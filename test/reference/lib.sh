# Shared by the reference scripts here (source it; needs `set -euo pipefail` in the caller).

# Sets PYTHON to the first python3 with torch and numpy (or keeps the one given); exits 2 naming the fix.
find_torch_python() {
  local script="$1" candidate
  if [[ -z "${PYTHON:-}" ]]; then
    for candidate in /usr/bin/python3 python3; do
      if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import torch, numpy' >/dev/null 2>&1; then
        PYTHON="$candidate"
        break
      fi
    done
  fi
  if [[ -z "${PYTHON:-}" ]]; then
    echo "$script: no python3 with torch and numpy found (install python3-torch, or set PYTHON=...)" >&2
    exit 2
  fi
}

# Sets out to the directory given (created) or to a temporary one removed at exit.
output_dir() {
  local prefix="$1"
  if [[ $# -ge 2 ]]; then
    out="$2"
    mkdir -p "$out"
  else
    out="$(mktemp -d "${TMPDIR:-/tmp}/$prefix.XXXXXX")"
    trap 'rm -rf "$out"' EXIT
  fi
}
