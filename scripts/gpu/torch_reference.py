#!/usr/bin/env python3
"""PyTorch reference timings for the GPU check: the same workloads as `pipeline bench`, on the same GPU.

    python3 torch_reference.py --device cuda --model resnet18 --width 64 --batch 128 --repeat 5
    python3 torch_reference.py --device cpu --model resnet18 --width 8 --batch 4 --repeat 1   (a quick try)

Prints one JSON line with the keys of `pipeline bench` (engine, backend, model, width, batch, threads,
prunable, forward_ms, train_step_ms, grasp_hg_ms; milliseconds, median of --repeat runs after --warmup
runs; on CUDA each run is bracketed by torch.cuda.synchronize()), plus how it was measured.
  forward      train-mode BatchNorm, no autograd (as the bench's forward)
  train step   forward + backward + SGD (lr 0.01, momentum 0.9), cross-entropy on labels i % classes
  GraSP Hg     Hessian-gradient product of cross-entropy(logits / T), T = 200, w.r.t. the conv and dense
               weights, on the --batch images (as the bench), and also on --hg-images images (default
               100, GraSP's scoring sample) as grasp_hg_<N>img_ms
fp32 throughout: TF32 is OFF (torch.backends.cuda.matmul.allow_tf32 = cudnn.allow_tf32 = False) unless
--tf32. cudnn.benchmark is on. Inputs are synthetic (N(0, 1)); values do not change the cost.
The models mirror src/models (same layers, so `prunable` equals the bench's).
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MODELS = ('lenet300', 'lenet5', 'resnet18', 'resnet20', 'resnet32', 'vgg11', 'vgg16', 'vgg19')
DEFAULT_WIDTH = {'lenet300': 1, 'lenet5': 1, 'resnet18': 64, 'resnet20': 16, 'resnet32': 16, 'vgg11': 64, 'vgg16': 64, 'vgg19': 64}
VGG_PLANS = {
    'vgg11': [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512],
    'vgg16': [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512],
    'vgg19': [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512],
}
T = 200.0


class Block(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN + shortcut (1x1 conv + BN when the shape changes), ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        o = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(o + (self.shortcut(x) if self.shortcut is not None else x))


class ResNet(nn.Module):
    """CIFAR ResNet: 3x3 stem + BN, no max-pool, stages of basic blocks, global average pool, dense."""

    def __init__(self, w, stages, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, w, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(w)
        blocks, cin = [], w
        for i, (n, mult) in enumerate(stages):
            for j in range(n):
                blocks.append(Block(cin, w * mult, 2 if i > 0 and j == 0 else 1))
                cin = w * mult
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc(self.blocks(F.relu(self.bn(self.stem(x)))).mean((2, 3)))


class VGG(nn.Module):
    """conv3x3-BN-ReLU stacks with 2x2 max-pools, then a 2x2 average pool and one dense layer."""

    def __init__(self, plan, w, classes=10):
        super().__init__()
        layers, cin, side = [], 3, 32
        for v in plan:
            if v == 'M':
                layers.append(nn.MaxPool2d(2))
                side //= 2
            else:
                c = max(1, round(v * w / 64))
                layers += [nn.Conv2d(cin, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
                cin = c
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear((side // 2) ** 2 * cin, classes)

    def forward(self, x):
        return self.fc(F.avg_pool2d(self.features(x), 2).flatten(1))


class LeNet300(nn.Module):
    def __init__(self, w, classes=10):
        super().__init__()
        h1, h2 = round(300 * w), round(100 * w)
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, h1), nn.Linear(h1, h2), nn.Linear(h2, classes)

    def forward(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x.flatten(1))))))


class LeNet5(nn.Module):
    """conv5x5 'same' - ReLU - pool - conv5x5 'valid' - ReLU - pool - 120 - 84 - classes, on 28x28x1."""

    def __init__(self, w, classes=10):
        super().__init__()
        c1, c2 = round(6 * w), round(16 * w)
        self.conv1, self.conv2 = nn.Conv2d(1, c1, 5, 1, 2), nn.Conv2d(c1, c2, 5)
        self.fc1 = nn.Linear(5 * 5 * c2, round(120 * w))
        self.fc2, self.fc3 = nn.Linear(round(120 * w), round(84 * w)), nn.Linear(round(84 * w), classes)

    def forward(self, x):
        a = F.max_pool2d(F.relu(self.conv1(x)), 2)
        a = F.max_pool2d(F.relu(self.conv2(a)), 2)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(a.flatten(1))))))


def build(name, w):
    if name == 'lenet300':
        return LeNet300(w), (1, 28, 28)
    if name == 'lenet5':
        return LeNet5(w), (1, 28, 28)
    if name == 'resnet18':
        return ResNet(int(w), [(2, 1), (2, 2), (2, 4), (2, 8)]), (3, 32, 32)
    if name in ('resnet20', 'resnet32'):
        n = 3 if name == 'resnet20' else 5
        return ResNet(int(w), [(n, 1), (n, 2), (n, 4)]), (3, 32, 32)
    return VGG(VGG_PLANS[name], int(w)), (3, 32, 32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--device', default='cuda', help='cuda (default), cuda:N or cpu')
    ap.add_argument('--model', default='resnet18', choices=MODELS)
    ap.add_argument('--width', type=float, default=None, help='first-stage channels (resnet/vgg) or multiplier (lenet); default as the bench')
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--repeat', type=int, default=5, help='timed runs (median reported); GraSP Hg uses max(1, repeat // 2) as the bench')
    ap.add_argument('--warmup', type=int, default=None, help='untimed runs first (default 5 on CUDA: cudnn autotuning; 1 on CPU)')
    ap.add_argument('--hg-images', type=int, default=100, help='also time GraSP Hg on this many images (0: skip)')
    ap.add_argument('--threads', type=int, default=None, help='CPU threads (cpu device; default torch\'s)')
    ap.add_argument('--tf32', action='store_true', help='allow TF32 (off by default: fp32 as the webgpu engine)')
    ap.add_argument('--channels-last', choices=('auto', 'on', 'off'), default='auto', help='NHWC activations (auto: on for CUDA, as PyTorch runs fastest)')
    a = ap.parse_args()

    dev = torch.device(a.device)
    cuda = dev.type == 'cuda'
    if cuda and not torch.cuda.is_available():
        ap.exit(2, 'torch_reference.py: CUDA is not available to this PyTorch (use --device cpu)\n')
    width = a.width if a.width is not None else DEFAULT_WIDTH[a.model]
    if not a.model.startswith('lenet') or width == int(width):
        width = int(width)
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.backends.cudnn.benchmark = True
    warmup = a.warmup if a.warmup is not None else (5 if cuda else 1)
    channels_last = a.channels_last == 'on' or (a.channels_last == 'auto' and cuda)
    torch.manual_seed(0)

    net, shape = build(a.model, width)
    fmt = torch.channels_last if channels_last and len(shape) == 3 and shape[0] > 1 else torch.contiguous_format
    net = net.to(dev).to(memory_format=fmt)
    net.train()
    weights = [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def data(n):
        x = torch.randn(n, *shape, device=dev).contiguous(memory_format=fmt)
        return x, torch.arange(n, device=dev) % 10

    x, y = data(a.batch)

    def forward():
        with torch.no_grad():
            net(x)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()

    def grasp_hg(xs, ys):
        def run():
            g = [t.detach() for t in torch.autograd.grad(F.cross_entropy(net(xs) / T, ys), weights)]
            gf = torch.autograd.grad(F.cross_entropy(net(xs) / T, ys), weights, create_graph=True)
            z = sum((gi * gj).sum() for gi, gj in zip(g, gf))
            torch.autograd.grad(z, weights)
        return run

    def sync():
        if cuda:
            torch.cuda.synchronize(dev)

    def median_ms(fn, repeat):
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeat):
            sync()
            t = time.perf_counter()
            fn()
            sync()
            times.append((time.perf_counter() - t) * 1000)
        return round(statistics.median(times), 2)

    hg_repeat = max(1, a.repeat // 2)
    out = dict(
        engine='pytorch-%s-%s' % (torch.__version__, dev.type),
        backend=dev.type,
        model=a.model,
        width=width,
        batch=a.batch,
        threads=None if cuda else torch.get_num_threads(),
        prunable=sum(w.numel() for w in weights),
        forward_ms=median_ms(forward, a.repeat),
        train_step_ms=median_ms(step, a.repeat),
        grasp_hg_ms=median_ms(grasp_hg(x, y), hg_repeat),
    )
    if a.hg_images > 0 and a.hg_images != a.batch:
        out['grasp_hg_%dimg_ms' % a.hg_images] = median_ms(grasp_hg(*data(a.hg_images)), hg_repeat)
    if a.model in ('resnet18', 'resnet20', 'resnet32') or a.model.startswith('vgg'):
        out['cifar10_epoch_s'] = round(out['train_step_ms'] * math.ceil(50000 / a.batch) / 1000, 1)
    out.update(
        device=torch.cuda.get_device_name(dev) if cuda else 'cpu',
        dtype='tf32' if a.tf32 and cuda else 'fp32',
        tf32=a.tf32 and cuda,
        channels_last=fmt is torch.channels_last,
        cudnn_benchmark=cuda,
        repeat=a.repeat,
        warmup=warmup,
        temperature=T,
    )
    if cuda:
        out['torch_cuda'] = torch.version.cuda
        out['peak_memory_mib'] = round(torch.cuda.max_memory_allocated(dev) / 2**20, 1)
    print(json.dumps(out), flush=True)


if __name__ == '__main__':
    main()
