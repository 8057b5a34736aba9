"""PyTorch/torchvision reference for examples/configs/mnist-cnn-augment.toml (and, with
--no-augment, examples/configs/mnist-cnn.toml): the same LeNet-style CNN, data, split, loss,
optimizer, scheduler and early stopping, so Tuna's test accuracy can be compared with PyTorch's.

- Data: the bundled MNIST subset datasets/mnist-10k (gzipped IDX files, read with gzip + numpy,
  nothing downloaded); pixels /255 then Normalize((0.1307,), (0.3081,)).
- Split: 10 % of the training file held out for validation, stratified by digit (per-class
  counts by largest remainder, as Tuna's stratified_split), with a permutation seeded by --seed.
- Train transforms (train split only, per sample, before Normalize):
  v2.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1)); none with --no-augment.
- Model: Conv2d(1,16,5,p=2) ReLU MaxPool2d(2) Conv2d(16,32,5,p=2) ReLU MaxPool2d(2) Flatten
  Dropout(0.25) Linear(1568,128) ReLU Dropout(0.25) Linear(128,10), PyTorch default init.
- CrossEntropyLoss(label_smoothing=0.1); SGD(lr=0.05, momentum=0.9, weight_decay=5e-4);
  OneCycleLR(max_lr=0.1, total_steps=epochs*batches_per_epoch) stepped every batch;
  batch 64, shuffled, drop_last=False, DataLoader(num_workers=0).
- 40 epochs, early stopping on val_loss with patience 10 (20 / 5 with --no-augment); the
  best-val_loss weights are restored before the test evaluation.

Run (one process at a time; the script sets torch.set_num_threads(1)):
  OMP_NUM_THREADS=1 python benches/torch_mnist_augment.py --seed 0
  OMP_NUM_THREADS=1 python benches/torch_mnist_augment.py --seed 0 --no-augment
Prints per-epoch lines and one final `summary:` line.
"""
import argparse
import copy
import gzip
import pathlib
import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

ROOT = pathlib.Path(__file__).resolve().parent.parent / "datasets" / "mnist-10k"
MEAN, STD = 0.1307, 0.3081


def read_idx(path: pathlib.Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = data[0] << 8 | data[1], data[2], data[3]
    assert zero == 0 and dtype == 0x08, f"{path}: not an unsigned-byte IDX file"
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    assert arr.size == int(np.prod(dims)), f"{path}: size mismatch"
    return arr.reshape(dims)


def load(prefix: str):
    x = read_idx(ROOT / f"{prefix}-images-idx3-ubyte.gz")
    y = read_idx(ROOT / f"{prefix}-labels-idx1-ubyte.gz")
    assert len(x) == len(y)
    images = torch.from_numpy(x.copy()).float().div_(255.0).unsqueeze(1)  # [N,1,28,28] in [0,1]
    return images, torch.from_numpy(y.astype(np.int64))


def apportion(total: int, weights) -> list:
    """Largest-remainder split of `total` in proportion to `weights` (ties to lower index)."""
    s = sum(weights)
    parts = [w * total // s for w in weights]
    rem = sorted(range(len(weights)), key=lambda i: (-((weights[i] * total) % s), i))
    for i in rem[: total - sum(parts)]:
        parts[i] += 1
    return parts


def stratified_split(labels: torch.Tensor, fraction: float, seed: int):
    n = len(labels)
    n_val = max(1, round(fraction * n))
    by_class = [torch.nonzero(labels == c).flatten() for c in range(10)]
    counts = apportion(n_val, [len(m) for m in by_class])
    g = torch.Generator().manual_seed(seed)
    train, val = [], []
    for members, k in zip(by_class, counts):
        perm = members[torch.randperm(len(members), generator=g)]
        val.append(perm[:k])
        train.append(perm[k:])
    train, val = torch.cat(train), torch.cat(val)
    # interleave the classes in a seeded order
    train = train[torch.randperm(len(train), generator=g)]
    val = val[torch.randperm(len(val), generator=g)]
    return train, val


class Digits(Dataset):
    def __init__(self, images, labels, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(self.images[i]), self.labels[i]


def model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25),
        nn.Linear(1568, 128), nn.ReLU(), nn.Dropout(0.25),
        nn.Linear(128, 10),
    )


@torch.no_grad()
def evaluate(net, loader, loss_fn):
    net.eval()
    total_loss, n, preds, targets = 0.0, 0, [], []
    for x, y in loader:
        out = net(x)
        total_loss += loss_fn(out, y).item() * len(y)
        n += len(y)
        preds.append(out.argmax(1))
        targets.append(y)
    p, t = torch.cat(preds), torch.cat(targets)
    acc = (p == t).float().mean().item()
    f1s = []
    for c in range(10):
        tp = ((p == c) & (t == c)).sum().item()
        fp = ((p == c) & (t != c)).sum().item()
        fn = ((p != c) & (t == c)).sum().item()
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return total_loss / n, acc, sum(f1s) / len(f1s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-augment", action="store_true")
    a = ap.parse_args()
    augment = not a.no_augment
    epochs, patience = (40, 10) if augment else (20, 5)

    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    t0 = time.perf_counter()

    x_train_file, y_train_file = load("train")
    x_test, y_test = load("t10k")
    tr_idx, va_idx = stratified_split(y_train_file, 0.1, a.seed)
    normalize = v2.Normalize([MEAN], [STD])
    train_tf = v2.Compose(
        ([v2.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1))] if augment else [])
        + [normalize]
    )
    train_ds = Digits(x_train_file[tr_idx], y_train_file[tr_idx], train_tf)
    val_ds = Digits(x_train_file[va_idx], y_train_file[va_idx], normalize)
    test_ds = Digits(x_test, y_test, normalize)
    print(f"train file {len(y_train_file)}, train {len(train_ds)}, val {len(val_ds)}, "
          f"test {len(test_ds)}, augment={augment}, epochs={epochs}, patience={patience}")

    g = torch.Generator().manual_seed(a.seed)
    train_dl = DataLoader(train_ds, batch_size=64, shuffle=True, drop_last=False,
                          num_workers=0, generator=g)
    val_dl = DataLoader(val_ds, batch_size=64, shuffle=False, num_workers=0)
    test_dl = DataLoader(test_ds, batch_size=64, shuffle=False, num_workers=0)

    net = model()
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1,
                                                total_steps=epochs * len(train_dl))

    best_loss, best_epoch, best_state, wait, ran = float("inf"), None, None, 0, 0
    for epoch in range(1, epochs + 1):
        te = time.perf_counter()
        net.train()
        tl, tn, tc = 0.0, 0, 0
        for x, y in train_dl:
            out = net(x)
            loss = loss_fn(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tl += loss.item() * len(y)
            tn += len(y)
            tc += (out.argmax(1) == y).sum().item()
        val_loss, val_acc, val_f1 = evaluate(net, val_dl, loss_fn)
        ran = epoch
        if val_loss < best_loss:
            best_loss, best_epoch, wait = val_loss, epoch, 0
            best_state = copy.deepcopy(net.state_dict())
        else:
            wait += 1
        print(f"epoch {epoch:2d}: loss {tl / tn:.4f} acc {tc / tn:.4f} | val_loss {val_loss:.4f} "
              f"val_acc {val_acc:.4f} val_f1 {val_f1:.4f} | lr {sched.get_last_lr()[0]:.5f} "
              f"| {time.perf_counter() - te:.1f}s{' *' if wait == 0 else ''}", flush=True)
        if wait >= patience:
            print(f"early stop: val_loss has not improved for {patience} epochs")
            break

    net.load_state_dict(best_state)
    test_loss, test_acc, test_f1 = evaluate(net, test_dl, loss_fn)
    wall = time.perf_counter() - t0
    print(f"summary: seed={a.seed} augment={'yes' if augment else 'no'} "
          f"test_acc={100 * test_acc:.2f}% test_f1={test_f1:.4f} test_loss={test_loss:.4f} "
          f"best_epoch={best_epoch} best_val_loss={best_loss:.4f} epochs_run={ran}/{epochs} "
          f"wall={wall:.1f}s torch={torch.__version__} "
          f"torchvision={__import__('torchvision').__version__}")


if __name__ == "__main__":
    main()
