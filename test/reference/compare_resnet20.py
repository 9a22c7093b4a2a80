#!/usr/bin/env python3
"""Precision of our resnet20 logits, g and Hg (GraSP features) against PyTorch float64.

    python3 test/reference/compare_resnet20.py <dir> [--per-tensor N] [--json]

Reads what test/reference/export-resnet20.ts wrote (theta0, sample, ours-<tag> for every tag), rebuilds
resnet20 functionally in PyTorch from θ₀ (conv HWIO -> OIHW, TF 'same' padding, dense [in, out] -> .T),
computes logits, g = dL/dθ and Hg = d<stop_grad(g), dL/dθ>/dθ (L = mean CE(logits / 200, y), θ = the
prunable conv/dense weights) in float64 (the reference) and float32, in BN eval and BN train mode, and
prints the relative L2 errors ||a - ref|| / ||ref|| (all prunable tensors concatenated, and the worst
tensors). Needs torch and numpy only (safetensors read by the small reader of compare_torch.py).
"""
import argparse
import glob
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_torch import read_safetensors  # noqa: E402

TEMPERATURE = 200.0
EPS = 1e-5
STAGES = [(1, 16), (2, 32), (3, 64)]  # (stage, width multiple of 16 at width 16; scaled below)


def conv_tf(x, w_hwio, stride, padding):
    """tf.conv2d(NHWC x, HWIO w) semantics on NCHW x: 'same' pads like TensorFlow (extra row/col at the end)."""
    w = w_hwio.permute(3, 2, 0, 1)
    kh, kw = w.shape[2], w.shape[3]
    if padding == "same":
        ih, iw = x.shape[2], x.shape[3]
        oh, ow = -(-ih // stride), -(-iw // stride)
        ph = max((oh - 1) * stride + kh - ih, 0)
        pw = max((ow - 1) * stride + kw - iw, 0)
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
    return F.conv2d(x, w, stride=stride)


class ResNet20:
    """Mirror of src/models/resnet.ts (resnetCifar(3)) on a name -> tensor dict in tfjs layout."""

    def __init__(self, theta, dtype, relu_masks=None):
        self.t = {k: torch.from_numpy(np.ascontiguousarray(v)).to(dtype) for k, v in theta.items()}
        self.dtype = dtype
        # relu_masks: a list of 0/1 arrays, one per ReLU call in forward order; when given, ReLU is
        # x * mask (same value and derivatives wherever the sign agrees, the given kink pattern elsewhere).
        self.relu_masks = relu_masks
        self.recorded = []
        self.prunable = [k for k in theta if theta[k].ndim == 4 or k == "fc"]  # forward order (header order)
        self.width = self.t["stem.conv"].shape[3]

    def bn(self, x, name, training):
        p = self.t
        if training:
            return F.batch_norm(x, None, None, p[name + ".gamma"], p[name + ".beta"], training=True, eps=EPS)
        return F.batch_norm(x, p[name + ".running_mean"], p[name + ".running_var"], p[name + ".gamma"], p[name + ".beta"], training=False, eps=EPS)

    def relu(self, x):
        i = len(self.recorded)
        self.recorded.append((x.detach() > 0).numpy())
        self.pre.append(x.detach().to(torch.float64).numpy())
        if self.relu_masks is None:
            return F.relu(x)
        m = torch.from_numpy(np.asarray(self.relu_masks[i], dtype=np.float64)).to(self.dtype)
        assert m.shape == x.shape, (i, m.shape, x.shape)
        return x * m

    def forward(self, ws, x, training):
        self.recorded, self.pre = [], []
        p = dict(self.t)
        p.update(zip(self.prunable, ws))
        self.t, saved = p, self.t
        try:
            h = self.relu(self.bn(conv_tf(x, p["stem.conv"], 1, "same"), "stem.bn", training))
            cin = self.width
            for s, stride0 in [(1, 1), (2, 2), (3, 2)]:
                cout = self.width * (1 << (s - 1))
                for b in range(3):
                    name = f"stage{s}.block{b}"
                    stride = stride0 if b == 0 else 1
                    o = self.relu(self.bn(conv_tf(h, p[name + ".conv1"], stride, "same"), name + ".bn1", training))
                    o = self.bn(conv_tf(o, p[name + ".conv2"], 1, "same"), name + ".bn2", training)
                    sc = h
                    if b == 0 and (stride != 1 or cin != cout):
                        sc = self.bn(conv_tf(h, p[name + ".shortcut"], stride, "valid"), name + ".shortcut_bn", training)
                    h = self.relu(o + sc)
                cin = cout
            h = h.mean(dim=(2, 3))
            return h @ p["fc"] + p["fc.bias"]
        finally:
            self.t = saved


def reference(theta, x_nhwc, y, dtype, training, relu_masks=None):
    net = ResNet20(theta, dtype, relu_masks)
    x = torch.from_numpy(np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2))).to(dtype)
    yt = torch.from_numpy(y.astype(np.int64))
    ws = [net.t[k].clone().requires_grad_(True) for k in net.prunable]
    loss = lambda: F.cross_entropy(net.forward(ws, x, training) / TEMPERATURE, yt)
    with torch.no_grad():
        logits = net.forward(ws, x, training)
    masks, pre = net.recorded, net.pre
    g = [t.detach() for t in torch.autograd.grad(loss(), ws)]
    gl = torch.autograd.grad(loss(), ws, create_graph=True)
    hg = torch.autograd.grad(sum((a * b).sum() for a, b in zip(g, gl)), ws)
    to_np = lambda t: t.detach().to(torch.float64).numpy()
    # back to tfjs layout: conv OIHW grads are already HWIO here (we differentiate the HWIO tensors).
    return {
        "logits": to_np(logits),
        "g": {k: to_np(t) for k, t in zip(net.prunable, g)},
        "hg": {k: to_np(t) for k, t in zip(net.prunable, hg)},
        "names": net.prunable,
        "relu_masks": masks,
        "relu_pre": pre,
    }


def rel(a, ref):
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    return float(np.linalg.norm(a - ref) / np.linalg.norm(ref))


def flat(d, names):
    return np.concatenate([np.asarray(d[n], dtype=np.float64).reshape(-1) for n in names])


def errors(cand, ref, names):
    out = {"logits": rel(cand["logits"], ref["logits"])}
    for key in ("g", "hg"):
        out[key] = rel(flat(cand[key], names), flat(ref[key], names))
        out[key + "_per_tensor"] = {n: rel(cand[key][n], ref[key][n]) for n in names}
    return out


def ours(path, mode, names):
    t, meta = read_safetensors(path)
    relus = sorted((k for k in t if k.startswith(f"{mode}.relu")), key=lambda k: int(k[len(mode) + 5 :]))
    return {
        "relu_masks": [np.ascontiguousarray(t[k].transpose(0, 3, 1, 2)).astype(bool) for k in relus],  # NHWC -> NCHW
        "logits": t[f"{mode}.logits"],
        "g": {n: t[f"{mode}.g.{n}"] for n in names},
        "hg": {n: t[f"{mode}.hg.{n}"] for n in names},
    }, meta


def kink_flips(ref, other):
    """ReLU units whose on/off state (x > 0) differs between two forward passes, and the largest |x| among
    them in ref (float64), relative to the RMS of that layer's pre-activations."""
    n, worst, total = 0, 0.0, 0
    for m_ref, m_o, pre in zip(ref["relu_masks"], other["relu_masks"], ref["relu_pre"]):
        d = m_ref != m_o
        total += d.size
        if d.any():
            n += int(d.sum())
            worst = max(worst, float(np.abs(pre[d]).max() / np.sqrt(np.mean(pre**2))))
    return n, total, worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--per-tensor", type=int, default=3, help="worst tensors listed per row")
    ap.add_argument("--json", action="store_true", help="also print one JSON line per row")
    args = ap.parse_args()
    torch.set_num_threads(1)
    theta, _ = read_safetensors(f"{args.dir}/theta0.safetensors")
    sample, smeta = read_safetensors(f"{args.dir}/sample.safetensors")
    x, y = sample["x"], sample["y"]
    tags = sorted(os.path.basename(p)[5:-12] for p in glob.glob(f"{args.dir}/ours-*.safetensors"))
    print(f"resnet20 w{theta['stem.conv'].shape[3]}, batch {y.size} ({smeta.get('input', '?')} input), T = {TEMPERATURE:g}, torch {torch.__version__}")
    print("relative L2 error ||a - ref|| / ||ref||, prunable tensors concatenated. ref64: PyTorch float64;")
    print("ref64k: PyTorch float64 differentiated at the row's own ReLU on/off pattern (ReLU(x) = x * mask):")
    print("g and Hg jump where a ReLU input crosses 0, so a float32 rounding that flips one unit moves them by far more")
    print("than rounding itself; ref64k removes those jumps and measures arithmetic precision only.")
    for mode in ("eval", "train"):
        training = mode == "train"
        t32 = reference(theta, x, y, torch.float32, training)
        ref = reference(theta, x, y, torch.float64, training)
        names = ref["names"]
        print(f"\nBN {mode}:")
        cands = [("pytorch float32", t32)]
        for tag in tags:
            info = json.load(open(f"{args.dir}/ours-{tag}.json"))
            assert info["prunable"] == names, (info["prunable"], names)
            c, _ = ours(f"{args.dir}/ours-{tag}.safetensors", mode, names)
            cands.append((f"ours {info['backend']} {info['threads'] or '-'} thr", c))
        print(f"  {'computed by':22} {'logits':>8} | {'g':>8} {'Hg':>8} vs ref64 | {'g':>8} {'Hg':>8} vs ref64k | ReLU flips vs f64 | worst tensors (Hg vs ref64k)")
        refks = {}
        for label, c in cands:
            key = b"".join(np.packbits(m).tobytes() for m in c["relu_masks"])
            if key not in refks:
                refks[key] = reference(theta, x, y, torch.float64, training, relu_masks=[m.astype(np.float64) for m in c["relu_masks"]])
            refk = refks[key]
            n, total, worst = kink_flips(ref, c)
            e, ek = errors(c, ref, names), errors(c, refk, names)
            worst_t = sorted(ek["hg_per_tensor"].items(), key=lambda kv: -kv[1])[: args.per_tensor]
            wt = ", ".join(f"{nm} {v:.1e}" for nm, v in worst_t)
            flips = f"{n} of {total // 1000}k" + (f" ({worst:.0e})" if n else "")
            print(f"  {label:22} {e['logits']:8.1e} | {e['g']:8.1e} {e['hg']:8.1e}          | {ek['g']:8.1e} {ek['hg']:8.1e}           | {flips:17} | {wt}")
            if args.json:
                print(json.dumps({"bn": mode, "by": label, "vs_ref64": e, "vs_ref64k": ek}))


if __name__ == "__main__":
    main()
