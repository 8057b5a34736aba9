"""PyTorch/torchvision reference for benches/image_pipeline.rs: images per second through
torchvision's ImageFolder (PIL decode) + transforms.v2 RandomCrop(padding) +
RandomHorizontalFlip + Normalize, batched by a shuffling DataLoader (batch 64), with 0 and 2
workers, on the same PNG files (run `cargo bench --bench image_pipeline` first: it writes
them under target/bench-images).

Run: OMP_NUM_THREADS=1 python benches/torch_image_pipeline.py [--epochs 5]
"""
import argparse
import pathlib
import time

import torch
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import v2

ROOT = pathlib.Path(__file__).resolve().parent.parent / "target" / "bench-images"


def loader(name: str, workers: int) -> DataLoader:
    if name == "rgb32":
        size, pad, mean, std, mode = 32, 4, [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616], "RGB"
    else:
        size, pad, mean, std, mode = 28, 2, [0.1307], [0.3081], "L"
    tf = v2.Compose([
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        v2.RandomCrop(size, padding=pad),
        v2.RandomHorizontalFlip(),
        v2.Normalize(mean, std),
    ])
    ds = datasets.ImageFolder(ROOT / name, transform=tf, loader=lambda p: _open(p, mode))
    return DataLoader(ds, batch_size=64, shuffle=True, num_workers=workers,
                      persistent_workers=workers > 0, prefetch_factor=2 if workers else None)


def _open(path, mode):
    from PIL import Image
    with open(path, "rb") as f:
        return Image.open(f).convert(mode)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(1)
    for name in ["rgb32", "gray28"]:
        for workers in [0, 2]:
            dl = loader(name, workers)
            n_images = len(dl.dataset)
            for _ in dl:  # warm-up epoch (starts the workers)
                pass
            times = []
            for _ in range(a.epochs):
                t0 = time.perf_counter()
                n = sum(len(y) for _, y in dl)
                times.append(time.perf_counter() - t0)
                assert n == n_images
            times.sort()
            med = times[len(times) // 2]
            print(f"image_pipeline/{name}/workers{workers}: median {med * 1e3:.1f} ms/epoch, "
                  f"{n_images / med:.0f} images/s (min {times[0] * 1e3:.1f} ms)")


if __name__ == "__main__":
    main()
