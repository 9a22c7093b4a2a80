#!/usr/bin/env bash
# Precision of our resnet20 logits, g and Hg (GraSP features, BN eval and train) against PyTorch float64.
#   test/reference/resnet20-precision.sh [outDir]      (default: a temporary directory, removed afterwards)
# Environment: RUNS="wasm:1 wasm:2" (backend:threads, one export each; add cpu:1 for the cpu backend, slow),
#   BATCH=40 (a multiple of 10 for the default synthetic input), INPUT=synthetic|normal, PYTHON=/path/to/python3.
# Needs node (npx tsx, from the repo's node_modules) and a python3 with torch + numpy. See README.md here.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

# shellcheck source=lib.sh
source "$here/lib.sh"
find_torch_python resnet20-precision.sh
output_dir resnet20-precision "$@"

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
