"""PyTorch reference for W6 in benches/train_step.rs: one training step of the ResNet-8 of
examples/configs/resnet-cifar.toml (stem conv3x3-BN-ReLU, three torchvision BasicBlocks of
16, 32 and 64 channels with 1x1 projection shortcuts where the shape changes, global average
pooling, Linear) on a [128, 3, 32, 32] batch: forward, cross-entropy, backward,
SGD(lr 0.01, momentum 0.9), BatchNorm in training mode.

Run: OMP_NUM_THREADS=1 python benches/torch_resnet_step.py --threads 1
     OMP_NUM_THREADS=2 python benches/torch_resnet_step.py --threads 2
"""
import argparse
import time

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock


def resnet8() -> nn.Module:
    def block(cin, cout, stride):
        down = None
        if stride != 1 or cin != cout:
            down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
        return BasicBlock(cin, cout, stride=stride, downsample=down)

    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        block(16, 16, 1), block(16, 32, 2), block(32, 64, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    )


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=30)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = resnet8().train()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(128, 3, 32, 32) * 2 - 1
    y = torch.randint(0, 10, (128,))

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    times = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    print(
        f"W6_resnet8_step/b128 threads={a.threads} params={params}: "
        f"median {times[len(times) // 2] * 1e3:.2f} ms, min {times[0] * 1e3:.2f} ms"
    )


if __name__ == "__main__":
    main()
