#!/usr/bin/env bash
# Cross-checks our snip / grasp / synflow masks for lenet300 on mnist against PyTorch.
#   test/reference/run.sh [outDir]      (default: a temporary directory, removed afterwards)
# Needs node (npx tsx, from the repo's node_modules) and a python3 with torch + numpy
# (set PYTHON=/path/to/python3 to choose one). Extra options go to compare_torch.py via COMPARE_ARGS.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

# shellcheck source=lib.sh
source "$here/lib.sh"
find_torch_python run.sh
output_dir prune-reference "$@"

cd "$root"
echo "== export (ours) -> $out" >&2
npx --no-install tsx test/reference/export.ts "$out"
echo "== PyTorch ($("$PYTHON" -c 'import torch; print(torch.__version__)')) comparison" >&2
# shellcheck disable=SC2086
"$PYTHON" test/reference/compare_torch.py "$out" ${COMPARE_ARGS:-}
