#!/usr/bin/env bash
# Cross-checks the masks of iter-snip, force, prospr and ntk-sap on resnet20-w8 and vgg11-w8 (mnist
# padded to 32, BN, seed 0, densities 10 / 5 / 2%) against PyTorch float64 (compare_pai.py).
#   test/reference/pai.sh [outDir]      (default: a temporary directory, removed afterwards)
# MODELS="resnet20 vgg11" and CRITERIA=iter-snip,force,prospr,ntk-sap choose what runs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

# shellcheck source=lib.sh
source "$here/lib.sh"
find_torch_python pai.sh
output_dir pai-reference "$@"

cd "$root"
status=0
for model in ${MODELS:-resnet20 vgg11}; do
  echo "== export $model-w8 (ours) -> $out/$model" >&2
  npx --no-install tsx test/reference/export-pai.ts "$out/$model" --model "$model" --width 8 --criteria "${CRITERIA:-iter-snip,force,prospr,ntk-sap}"
  echo "== PyTorch ($("$PYTHON" -c 'import torch; print(torch.__version__)')) float64 reference, $model-w8" >&2
  "$PYTHON" test/reference/compare_pai.py "$out/$model" || status=1
done
exit $status
