#!/usr/bin/env bash
# The GPU check of the webgpu engine, run on a GPU server inside an unpacked pack (scripts/gpu/pack.sh)
# after `source setup.sh`: tfjs-webgpu vs PyTorch CUDA fp32 (TF32 off) on the same GPU in one run,
# then one IRP round of the paper-scale preset on synthetic CIFAR-shaped data for seconds per epoch.
# Writes everything under ${1:-results}/ and prints a summary; each step is bounded by a timeout.
#   bash measure.sh [OUTDIR]
set -uo pipefail
cd "$(dirname "$0")"
out=${1:-results}
# IRP_EXAMPLES: synthetic training examples for the IRP round (CIFAR-10 has 50,000; fewer for a quick
# check, seconds per epoch are then scaled to 50,000). TIMEOUTS: seconds for bench, torch, irp.
examples=${IRP_EXAMPLES:-50000}
read -r t_bench t_torch t_irp <<<"${TIMEOUTS:-300 300 900}"
mkdir -p "$out"
log() { printf '%s %s\n' "$(date +%T)" "$*" | tee -a "$out/log.txt"; }

log "GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo unknown)"
log "webgpu bench (resnet18 w64 batch 128, per-kernel profile)"
timeout "$t_bench" ./pipeline --backend webgpu bench --model resnet18 --width 64 --batch 128 --repeat 5 --profile \
  >"$out/bench-webgpu.jsonl" 2>>"$out/log.txt" || log "webgpu bench failed (exit $?)"
log "PyTorch CUDA reference (fp32, TF32 off)"
timeout "$t_torch" python3 torch_reference.py --device cuda --model resnet18 --width 64 --batch 128 --repeat 5 \
  >"$out/torch.jsonl" 2>>"$out/log.txt" || log "torch reference failed (exit $?)"
log "one IRP round, one epoch: irp-resnet18-cifar10 preset on synthetic 32x32x3 ($examples examples)"
start=$(date +%s)
timeout "$t_irp" ./pipeline --backend webgpu irp --config pipelines/irp-resnet18-cifar10.json \
  --dataset synthetic:32x32x3:10:$examples --rounds 1 --epochs-per-round 1 --final-density 0.8 --out "$out/irp-round" \
  >>"$out/log.txt" 2>&1 || log "irp round failed (exit $?)"
log "irp round wall: $(( $(date +%s) - start )) s"
node=$( [ -x ./node ] && echo ./node || command -v node )
"$node" -e '
const fs = require("fs"); const out = process.argv[1]; const scale = 50000 / Number(process.argv[2]);
const last = (f) => { try { return JSON.parse(fs.readFileSync(f, "utf8").trim().split("\n").at(-1)); } catch { return null; } };
const ours = last(`${out}/bench-webgpu.jsonl`); const ref = last(`${out}/torch.jsonl`);
const summary = { adapter: ours?.adapter };
if (ours && ref) for (const k of ["forward_ms", "train_step_ms", "grasp_hg_ms"]) summary[k.replace(/_ms$/, "_vs_torch")] = +(ours[k] / ref[k]).toFixed(2);
const m = (() => { try { return fs.readFileSync(`${out}/irp-round/round-00/train/metrics.jsonl`, "utf8").trim().split("\n").map(JSON.parse); } catch { return []; } })();
const epochS = m.length ? m.at(-1).seconds * scale : null;
if (epochS) { summary.irp_seconds_per_epoch = +epochS.toFixed(1); summary.irp_projected_hours = +(21 * 160 * epochS / 3600).toFixed(1) /* dense run + 20 rounds, 160 epochs each */; }
console.log(JSON.stringify(summary));
' "$out" "$examples" | tee -a "$out/log.txt"
