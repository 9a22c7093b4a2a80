#!/usr/bin/env bash
# Precision of our resnet20 logits, g and Hg (GraSP features, BN eval and train) against PyTorch float64.
#   test/reference/resnet20-precision.sh [outDir]      (default: a temporary directory, removed afterwards)
# Environment: RUNS="wasm:1 wasm:2" (backend:threads, one export each; add cpu:1 for the cpu backend, slow),
#   BATCH=40 (a multiple of 10 for the default synthetic input), INPUT=synthetic|normal, PYTHON=/path/to/python3.
# Needs node (npx tsx, from the repo's node_modules) and a python3 with torch + numpy. See README.md here.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [[ -z "${PYTHON:-}" ]]; then
  for candidate in /usr/bin/python3 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import torch, numpy' >/dev/null 2>&1; then
      PYTHON="$candidate"
      break
    fi
  done
fi
if [[ -z "${PYTHON:-}" ]]; then
  echo "resnet20-precision.sh: no python3 with torch and numpy found (install python3-torch, or set PYTHON=...)" >&2
  exit 2
fi

if [[ $# -ge 1 ]]; then
  out="$1"
  mkdir -p "$out"
else
  out="$(mktemp -d "${TMPDIR:-/tmp}/resnet20-precision.XXXXXX")"
  trap 'rm -rf "$out"' EXIT
fi

cd "$root"
for run in ${RUNS:-wasm:1 wasm:2}; do
  backend="${run%%:*}"
  threads="${run#*:}"
  echo "== export (ours, $backend, $threads thread(s)) -> $out" >&2
  PIPELINE_THREADS="$threads" npx --no-install tsx test/reference/export-resnet20.ts "$out" --backend "$backend" --threads "$threads" \
    --batch "${BATCH:-40}" --input "${INPUT:-synthetic}"
done
echo "== PyTorch comparison" >&2
"$PYTHON" test/reference/compare_resnet20.py "$out"
