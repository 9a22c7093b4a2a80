#!/usr/bin/env bash
# System packages the test suite needs, installed once (root; a no-op when present):
#  - Mesa >= 25 lavapipe, a software Vulkan driver, so the webgpu tests run on a CPU-only machine;
#  - Debian's dataset-fashion-mnist, the real Fashion-MNIST files the IDX reader is tested on;
#  - Debian's slurm-wlm and munge, a real Slurm for the `run --slurm` tests (scripts/slurm/local-cluster.sh
#    starts a one-node cluster from them; the test does so itself when none answers).
set -euo pipefail
here=$(dirname "$0")
bash "$here/install-lavapipe.sh"
if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dataset-fashion-mnist >/dev/null 2>&1
fi
if ! dpkg -s slurm-wlm munge >/dev/null 2>&1; then
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null 2>&1
fi
echo "slurm: slurm-wlm $(dpkg-query -W -f='${Version}' slurm-wlm)"
echo "test data: dataset-fashion-mnist $(dpkg-query -W -f='${Version}' dataset-fashion-mnist)"
