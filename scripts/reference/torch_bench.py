#!/usr/bin/env python3
"""PyTorch CPU reference timings for the workloads the project must run fast.

Install once:  apt-get update && apt-get install -y python3-torch python3-numpy
Run:           /usr/bin/python3 scripts/reference/torch_bench.py --model resnet18 --width 64 --batch 32 --threads 1

Prints one JSON line: forward, train-step (forward+backward+SGD) and GraSP Hg (T=200, one batch)
times in milliseconds, median of --repeat runs. Compare with the project's own benchmark on the same
machine, in the same run, with the same thread count.
"""
import argparse, json, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.sc = None
        if stride != 1 or cin != cout:
            self.sc = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        o = F.relu(self.b1(self.c1(x)))
        o = self.b2(self.c2(o))
        return F.relu(o + (self.sc(x) if self.sc is not None else x))


class ResNet18(nn.Module):
    """CIFAR ResNet-18: 3x3 stem, no max-pool, widths w, 2w, 4w, 8w."""
    def __init__(self, w=64, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, w, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(w)
        layers, cin = [], w
        for mult, stride in [(1, 1), (1, 1), (2, 2), (2, 1), (4, 2), (4, 1), (8, 2), (8, 1)]:
            layers.append(Block(cin, w * mult, stride))
            cin = w * mult
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        h = self.blocks(F.relu(self.bn(self.stem(x))))
        return self.fc(h.mean((2, 3)))


class VGG(nn.Module):
    CFG = {16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512],
           19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512]}

    def __init__(self, depth=16, w=64, classes=10):
        super().__init__()
        layers, cin = [], 3
        for v in self.CFG[depth]:
            if v == 'M':
                layers.append(nn.MaxPool2d(2))
            else:
                c = v * w // 64
                layers += [nn.Conv2d(cin, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
                cin = c
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc(F.avg_pool2d(self.features(x), 2).flatten(1))


class LeNet300(nn.Module):
    def __init__(self, w=1, classes=10):
        super().__init__()
        self.f1, self.f2, self.f3 = nn.Linear(784, 300 * w), nn.Linear(300 * w, 100 * w), nn.Linear(100 * w, classes)

    def forward(self, x):
        return self.f3(F.relu(self.f2(F.relu(self.f1(x.flatten(1))))))


def median_ms(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', default='resnet18', choices=['resnet18', 'vgg16', 'vgg19', 'lenet300'])
    ap.add_argument('--width', type=int, default=None, help='base width (resnet/vgg, default 64) or multiplier (lenet300, default 1)')
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--repeat', type=int, default=3)
    a = ap.parse_args()
    if a.width is None:
        a.width = 1 if a.model == 'lenet300' else 64
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    if a.model == 'resnet18':
        net, x = ResNet18(a.width), torch.randn(a.batch, 3, 32, 32)
    elif a.model.startswith('vgg'):
        net, x = VGG(int(a.model[3:]), a.width), torch.randn(a.batch, 3, 32, 32)
    else:
        net, x = LeNet300(a.width), torch.randn(a.batch, 1, 28, 28)
    y = torch.arange(a.batch) % 10
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    weights = [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]

    def forward():
        with torch.no_grad():
            net(x)

    def step():
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()

    def grasp_hg():
        g = torch.autograd.grad(F.cross_entropy(net(x) / 200, y), weights)
        g = [t.detach() for t in g]
        gf = torch.autograd.grad(F.cross_entropy(net(x) / 200, y), weights, create_graph=True)
        z = sum((a_ * b_).sum() for a_, b_ in zip(gf, g))
        torch.autograd.grad(z, weights)

    out = dict(engine=f'pytorch-{torch.__version__}', model=a.model, width=a.width, batch=a.batch, threads=a.threads,
               prunable=sum(w.numel() for w in weights),
               forward_ms=round(median_ms(forward, a.repeat), 2),
               train_step_ms=round(median_ms(step, a.repeat), 2),
               grasp_hg_ms=round(median_ms(grasp_hg, max(1, a.repeat // 2)), 2))
    print(json.dumps(out))


if __name__ == '__main__':
    main()
