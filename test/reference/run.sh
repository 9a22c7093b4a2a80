#!/usr/bin/env bash
# Cross-checks our snip / grasp / synflow masks for lenet300 on mnist against PyTorch.
#   test/reference/run.sh [outDir]      (default: a temporary directory, removed afterwards)
# Needs node (npx tsx, from the repo's node_modules) and a python3 with torch + numpy
# (set PYTHON=/path/to/python3 to choose one). Extra options go to compare_torch.py via COMPARE_ARGS.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [[ -z "${PYTHON:-}" ]]; then
  for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import torch, numpy' >/dev/null 2>&1; then
      PYTHON="$candidate"
      break
    fi
  done
fi
if [[ -z "${PYTHON:-}" ]]; then
  echo "run.sh: no python3 with torch and numpy found (install python3-torch, or set PYTHON=...)" >&2
  exit 2
fi

if [[ $# -ge 1 ]]; then
  out="$1"
  mkdir -p "$out"
else
  out="$(mktemp -d "${TMPDIR:-/tmp}/prune-reference.XXXXXX")"
  trap 'rm -rf "$out"' EXIT
fi

cd "$root"
echo "== export (ours) -> $out" >&2
npx --no-install tsx test/reference/export.ts "$out"
echo "== PyTorch ($("$PYTHON" -c 'import torch; print(torch.__version__)')) comparison" >&2
# shellcheck disable=SC2086
"$PYTHON" test/reference/compare_torch.py "$out" ${COMPARE_ARGS:-}
