#!/usr/bin/env python3
"""Masks of iter-snip, force, prospr and ntk-sap recomputed in PyTorch float64, against ours.

    python3 test/reference/compare_pai.py <dir> [--min-overlap 0.99] [--json]

Reads what test/reference/export-pai.ts wrote. Each criterion is written here from its paper (not from
our code or theirs): the network is rebuilt functionally from θ₀ (conv HWIO -> OIHW with TF 'same'
padding, dense [in, out]), the scoring sample is one batch, L = mean cross-entropy, BN per the
criterion's mode (train: batch statistics; eval: running statistics), global top-k with
k = round(d_r · N) per round, d_r = d^((r+1)/R) (exactly d at the last round), ties to the lower flat
index in our flat order (tensors in forward order, each row-major in tfjs layout).

- iter-snip (de Jorge et al. 2021): each round |w̄ ⊙ ∂L/∂w̄| at w̄ = θ₀ ⊙ m; only survivors compete.
- force: |θ₀ ⊙ ∂L/∂w̄| at w̄ = θ₀ ⊙ m; every weight competes (pruned ones may return).
- prospr (Alizadeh et al. 2022): c = 1, w'₀ = θ₀ ⊙ c, M steps w' ← w' − α ∇L(w') on every trainable
  tensor (BN γ/β and biases too), score |∂L(w'_M)/∂c| by autograd through the steps (create_graph);
  one shot.
- ntk-sap (Wang et al. 2023): each round, per exported draw (θ, x ~ N(0,1), δ): BN statistics from a
  train-mode pass of f(x; θ ⊙ m) (mean, unbiased variance), then both nets in eval mode on them,
  J = Σ ‖f(x; θ ⊙ m) − f(x; (θ + δ) ⊙ m)‖², score |Σ_draws ∂J/∂m| over survivors.

How it compares. Float32 and float64 part ways on these criteria for a reason of their own: a ReLU
unit whose input lies within rounding of 0 flips, moving g by ~1e-3 relative (test/reference/README.md,
resnet20 precision), and the iterative criteria feed every round's mask into the next (60 rounds for
iter-snip and force), ProsPr feeds every step into the next through lr · H. So each check recomputes
one stage in float64 from OUR previous state and compares that stage's output:
- iterative criteria (--rounds, default the first two and the last two rounds): the reference scores at
  our mask after round r-1 and selects round r's mask; printed per round: overlap with ours, how many
  weights differ, and how far (relative) their reference scores lie from the k-th score;
- prospr: each inner step recomputed from our previous point (error relative to the step's length),
  the reverse pass in float64 along our trajectory (relative error of the meta-gradient) and the masks
  it gives vs ours ("overlap_along_ours"); beside it, free-running float64 and float32 PyTorch from θ₀,
  to show how far float32 alone moves this criterion ("overlap_torch32_vs_torch64").
Exits 1 if a checked overlap is below --min-overlap.
"""
import argparse
import glob
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_torch import read_safetensors  # noqa: E402
from compare_resnet20 import conv_tf  # noqa: E402

EPS = 1e-5
DT = torch.float64
VGG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512]


class Net:
    """resnet20 / vgg11 (BN) as functions of a name -> tensor dict in tfjs layout (src/models/)."""

    def __init__(self, kind, specs):
        self.kind = kind
        self.specs = specs  # name -> shape

    def bn(self, x, p, name, mode, stats):
        g, b = p[name + ".gamma"], p[name + ".beta"]
        if mode == "train" or mode == "record":
            if mode == "record":
                n = x.numel() // x.shape[1]
                mean = x.mean(dim=(0, 2, 3))
                var = x.var(dim=(0, 2, 3), unbiased=False)
                stats[name] = (mean.detach(), (var * n / max(1, n - 1)).detach())
            return F.batch_norm(x, None, None, g, b, training=True, eps=EPS)
        mean, var = stats[name] if stats is not None else (p[name + ".running_mean"], p[name + ".running_var"])
        return F.batch_norm(x, mean, var, g, b, training=False, eps=EPS)

    def __call__(self, p, x, mode, stats=None):
        return self.resnet20(p, x, mode, stats) if self.kind == "resnet20" else self.vgg11(p, x, mode, stats)

    def resnet20(self, p, x, mode, stats):
        bn = lambda h, n: self.bn(h, p, n, mode, stats)
        h = F.relu(bn(conv_tf(x, p["stem.conv"], 1, "same"), "stem.bn"))
        width = p["stem.conv"].shape[3]
        cin = width
        for s, stride0 in [(1, 1), (2, 2), (3, 2)]:
            cout = width * (1 << (s - 1))
            for b in range(3):
                name = f"stage{s}.block{b}"
                stride = stride0 if b == 0 else 1
                o = F.relu(bn(conv_tf(h, p[name + ".conv1"], stride, "same"), name + ".bn1"))
                o = bn(conv_tf(o, p[name + ".conv2"], 1, "same"), name + ".bn2")
                sc = h
                if b == 0 and (stride != 1 or cin != cout):
                    sc = bn(conv_tf(h, p[name + ".shortcut"], stride, "valid"), name + ".shortcut_bn")
                h = F.relu(o + sc)
            cin = cout
        return h.mean(dim=(2, 3)) @ p["fc"] + p["fc.bias"]

    def vgg11(self, p, x, mode, stats):
        h, i = x, 0
        for item in VGG11:
            if item == "M":
                h = F.max_pool2d(h, 2)
                continue
            h = F.relu(self.bn(conv_tf(h, p[f"features.conv{i}"], 1, "same"), p, f"features.bn{i}", mode, stats))
            i += 1
        h = F.avg_pool2d(h, 2)
        h = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)  # flatten NHWC, as our dense layer sees it
        return h @ p["fc"] + p["fc.bias"]


def keep_top(scores, k, candidates):
    """Top-k of the flat scores among candidates; ties to the lower flat index."""
    s = np.where(candidates, scores, -np.inf)
    order = np.lexsort((np.arange(s.size), -s))  # by score descending, then index ascending
    keep = np.zeros(s.size, dtype=bool)
    keep[order[:k]] = True
    return keep


class Problem:
    def __init__(self, d):
        meta = json.load(open(os.path.join(d, "export.json")))
        theta, _ = read_safetensors(os.path.join(d, "theta0.safetensors"))
        sample, _ = read_safetensors(os.path.join(d, "sample.safetensors"))
        self.dir = d
        self.meta = meta
        self.names = [p["name"] for p in meta["prunable"]]
        self.buffers = set(meta["buffers"])
        self.theta = {k: torch.from_numpy(np.ascontiguousarray(v)).to(DT) for k, v in theta.items()}
        self.x = torch.from_numpy(np.ascontiguousarray(sample["x"].transpose(0, 3, 1, 2))).to(DT)
        self.y = torch.from_numpy(sample["y"].astype(np.int64))
        self.net = Net(meta["model"], {k: v.shape for k, v in theta.items()})
        self.sizes = [self.theta[n].numel() for n in self.names]
        self.total = sum(self.sizes)

    def flat(self, ts):
        return torch.cat([t.reshape(-1) for t in ts]).detach().numpy()

    def unflat(self, v):
        out, o = [], 0
        for n, s in zip(self.names, self.sizes):
            out.append(torch.from_numpy(v[o : o + s].astype(np.float64)).reshape(self.theta[n].shape))
            o += s
        return out

    def loss(self, ws, others=None):
        p = dict(self.theta)
        p.update(zip(self.names, ws))
        if others:
            p.update(others)
        return F.cross_entropy(self.net(p, self.x, "train"), self.y)

    def ours(self, criterion, density):
        m, _ = read_safetensors(os.path.join(self.dir, f"mask-{criterion}-d{density}.safetensors"))
        return np.concatenate([m[n].reshape(-1) for n in self.names]).astype(bool)


def schedule(density, r, rounds, total):
    d = density if r == rounds - 1 else density ** ((r + 1) / rounds)
    return math.floor(d * total + 0.5)


def snip_scores(pb, alive, use_theta0, dtype=DT):
    """iter-snip (use_theta0=False): |w̄ ⊙ ∂L/∂w̄|; force (True): |θ₀ ⊙ ∂L/∂w̄|; w̄ = θ₀ ⊙ alive."""
    theta = {k: v.to(dtype) for k, v in pb.theta.items()}
    theta0 = pb.flat([pb.theta[n] for n in pb.names])
    wbar = [t.to(dtype).clone().requires_grad_(True) for t in pb.unflat(theta0 * alive)]
    p = dict(theta)
    p.update(zip(pb.names, wbar))
    loss = F.cross_entropy(pb.net(p, pb.x.to(dtype), "train"), pb.y)
    g = pb.flat([t.to(torch.float64) for t in torch.autograd.grad(loss, wbar)])
    return np.abs((theta0 if use_theta0 else theta0 * alive) * g)


def ntk_scores(pb, alive, r, draws, dtype=DT):
    """|Σ_draws ∂J/∂m| at the mask `alive`, with round r's exported draws."""
    dr, _ = read_safetensors(os.path.join(pb.dir, f"ntk-draws-r{r}.safetensors"))
    acc = np.zeros(pb.total)
    for j in range(draws):
        th = {n: torch.from_numpy(np.ascontiguousarray(dr[f"d{j}.theta.{n}"])).to(dtype) for n in pb.theta}
        x = torch.from_numpy(np.ascontiguousarray(dr[f"d{j}.x"].transpose(0, 3, 1, 2))).to(dtype)
        m = [t.to(dtype).requires_grad_(True) for t in pb.unflat(alive.astype(np.float64))]
        p1, p2 = dict(th), dict(th)
        for i, n in enumerate(pb.names):
            p1[n] = th[n] * m[i]
            p2[n] = (th[n] + torch.from_numpy(np.ascontiguousarray(dr[f"d{j}.delta.{n}"])).to(dtype)) * m[i]
        stats = {}
        with torch.no_grad():
            pb.net(p1, x, "record", stats)
        jac = ((pb.net(p1, x, "eval", stats) - pb.net(p2, x, "eval", stats)) ** 2).sum()
        acc += pb.flat([t.to(torch.float64) for t in torch.autograd.grad(jac, m)])
    return np.abs(acc)


def round_check(pb, name, c, density, rounds_to_check):
    """Each checked round r recomputed at OUR mask after round r-1 (teacher forcing): the reference's
    selection vs ours, so one round's arithmetic is checked without the cascade of earlier rounds."""
    ours, _ = read_safetensors(os.path.join(pb.dir, f"rounds-{name}-d{density}.safetensors"))
    mask = lambda r: np.concatenate([ours[f"r{r}.{n}"].reshape(-1) for n in pb.names]).astype(bool)
    R = c["rounds"]
    out = []
    for r in sorted({x if x >= 0 else R + x for x in rounds_to_check}):
        alive = mask(r - 1) if r > 0 else np.ones(pb.total, dtype=bool)
        score = lambda dtype: (
            ntk_scores(pb, alive, r, int(c["options"]["draws"]), dtype) if name == "ntk-sap" else snip_scores(pb, alive, name == "force", dtype)
        )
        scores = score(DT)
        cand = np.ones(pb.total, dtype=bool) if c["regrows"] else alive
        k = schedule(density, r, R, pb.total)
        ref = keep_top(scores, k, cand)
        ref32 = keep_top(score(torch.float32), k, cand)
        mine = mask(r)
        diff = np.flatnonzero(ref != mine)
        # How far the differing weights' reference scores lie from the reference's k-th score.
        kth = np.sort(scores[cand])[::-1][k - 1]
        out.append(
            {
                "round": r,
                "k": k,
                "overlap": float((ref & mine).sum() / k),
                "differ": int(len(diff) // 2),
                "max_rel_gap_of_differing": float(np.max(np.abs(scores[diff] - kth)) / kth) if len(diff) else 0.0,
                "torch32_differ": int((ref != ref32).sum() // 2),
            }
        )
    return out


def prospr_scores(pb, steps, lr, dtype=DT):
    theta = {k: v.to(dtype) for k, v in pb.theta.items()}
    x = pb.x.to(dtype)
    trainable = [n for n in theta if n not in pb.buffers]
    c = [torch.ones_like(theta[n], requires_grad=True) for n in pb.names]
    w = {n: theta[n].clone().requires_grad_(True) for n in trainable}
    for i, n in enumerate(pb.names):
        w[n] = theta[n] * c[i]

    def loss_of(wd):
        p = dict(theta)
        p.update(wd)
        return F.cross_entropy(pb.net(p, x, "train"), pb.y)

    for _ in range(steps):
        names = list(w)
        gs = torch.autograd.grad(loss_of(w), [w[n] for n in names], create_graph=True)
        w = {n: w[n] - lr * g for n, g in zip(names, gs)}
    meta = torch.autograd.grad(loss_of(w), c)
    return np.concatenate([t.reshape(-1).detach().to(torch.float64).numpy() for t in meta])


def prospr_along_ours(pb, steps, lr):
    """Float64 arithmetic along OUR float32 trajectory: each step recomputed from our previous point, and
    the reverse pass a_k = a_{k+1} - α H(θ'_k) a_{k+1} with H at our points (double backward)."""
    ours, _ = read_safetensors(os.path.join(pb.dir, "prospr-path.safetensors"))
    trainable = [n for n in pb.theta if n not in pb.buffers]
    at = lambda k: {n: torch.from_numpy(np.ascontiguousarray(ours[f"p{k}.{n}"])).to(DT).reshape(pb.theta[n].shape) for n in trainable}

    def loss_of(wd):
        p = dict(pb.theta)
        p.update(wd)
        return F.cross_entropy(pb.net(p, pb.x, "train"), pb.y)

    def grad_at(wd, create_graph=False):
        ws = {n: t.clone().requires_grad_(True) for n, t in wd.items()}
        return ws, torch.autograd.grad(loss_of(ws), [ws[n] for n in trainable], create_graph=create_graph)

    step_errors = []
    for k in range(steps):
        p, (_, g) = at(k), grad_at(at(k))
        nxt = at(k + 1)
        ref = [p[n] - lr * gi for n, gi in zip(trainable, g)]
        num = sum(float(((nxt[n] - r) ** 2).sum()) for n, r in zip(trainable, ref))
        den = sum(float(((nxt[n] - p[n]) ** 2).sum()) for n in trainable)
        step_errors.append(math.sqrt(num / den))  # relative to the step's own length
    _, a = grad_at(at(steps))
    a = [t.detach() for t in a]
    for k in range(steps - 1, -1, -1):
        ws, g = grad_at(at(k), create_graph=True)
        hv = torch.autograd.grad(sum((gi * ai).sum() for gi, ai in zip(g, a)), [ws[n] for n in trainable])
        a = [ai - lr * h.detach() for ai, h in zip(a, hv)]
    idx = {n: i for i, n in enumerate(trainable)}
    meta = np.concatenate([(pb.theta[n] * a[idx[n]]).reshape(-1).numpy() for n in pb.names])
    mine = np.concatenate([ours[f"meta.{n}"].reshape(-1) for n in pb.names]).astype(np.float64)
    return step_errors, float(np.linalg.norm(mine - meta) / np.linalg.norm(meta)), np.abs(meta)


def overlap(a, b):
    return float((a & b).sum() / a.sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--rounds", default="0,1,-2,-1", help="rounds of iterative criteria to check (negative: from the end)")
    ap.add_argument("--min-overlap", type=float, default=0.99, help="per checked round (iterative) or along our path (prospr)")
    args = ap.parse_args()
    pb = Problem(args.dir)
    rounds_to_check = [int(r) for r in args.rounds.split(",")]
    worst = 1.0
    densities = sorted({float(f.split("-d")[-1][: -len(".safetensors")]) for f in glob.glob(os.path.join(args.dir, "mask-*-d*.safetensors"))}, reverse=True)
    head = {"model": pb.meta["model"], "width": pb.meta["width"]}
    for name, c in pb.meta["criteria"].items():
        if name == "prospr":
            o = c["options"]
            steps, lr = int(o["steps"]), o["lr"]
            step_errors, meta_err, along = prospr_along_ours(pb, steps, lr)
            free64 = prospr_scores(pb, steps, lr)
            free32 = np.abs(prospr_scores(pb, steps, lr, torch.float32))
            free64 = np.abs(free64)
            for density in densities:
                k = math.floor(density * pb.total + 0.5)
                allw = np.ones(pb.total, dtype=bool)
                ours = pb.ours(name, density)
                r_along = keep_top(along, k, allw)
                r64, r32 = keep_top(free64, k, allw), keep_top(free32, k, allw)
                worst = min(worst, overlap(r_along, ours))
                print(
                    json.dumps(
                        {
                            **head,
                            "criterion": name,
                            "density": density,
                            "k": k,
                            "step_rel_errors_along_ours": step_errors,
                            "meta_gradient_rel_error_along_ours": meta_err,
                            "overlap_along_ours": overlap(r_along, ours),
                            "overlap_vs_torch64": overlap(r64, ours),
                            "overlap_torch32_vs_torch64": overlap(r64, r32),
                            "seconds_ours": c["seconds"].get(str(density)),
                        }
                    ),
                    flush=True,
                )
            continue
        for density in densities:
            checks = round_check(pb, name, c, density, rounds_to_check)
            worst = min([worst] + [x["overlap"] for x in checks])
            print(json.dumps({**head, "criterion": name, "density": density, "rounds": c["rounds"], "checked": checks, "seconds_ours": c["seconds"].get(str(density))}), flush=True)
    sys.exit(0 if worst >= args.min_overlap else 1)


if __name__ == "__main__":
    main()
