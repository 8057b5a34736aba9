"""Optuna 5 + PyTorch twin of a `tuna tune` study over an MLP on MNIST files
(examples/tune/mnist-mlp-space.toml): the same space, sampler, pruner, budget and trials.

Everything is read from the space file and its base experiment:
- Data: the base's `Mnist` folder (gzipped IDX), pixels (x/255 - 0.1307)/0.3081 as Tuna's
  `normalize = true`; `data.validation` held out, stratified by digit (largest-remainder
  counts per class, a permutation seeded by the base seed), as benches/torch_mnist_augment.py.
- Model: the base's `Sequential` (Flatten / Linear / ReLU / Dropout), PyTorch default init;
  `CrossEntropyLoss(label_smoothing)`; `SGD(lr, momentum, nesterov, weight_decay)`;
  `OneCycleLR(max_lr, total_steps = epochs x batches)` stepped per batch; shuffled batches,
  `drop_last=False`; `train.epochs` epochs.
- Space: `uniform`, `log_uniform`, `int` (step), `choice` and `same_as` parameters on
  `scheduler.*`, `optimizer.*`, `loader.batch_size` and `model.layers[i].<field>`.
- Sampler: `TPESampler(seed=SEED)` with Optuna's defaults (multivariate and constant liar on
  in Optuna 5), or what `--multivariate/--constant-liar` say; `n_startup_trials` and
  `n_ei_candidates` from the space's `[sampler]`.
- Pruner: `SuccessiveHalvingPruner(min_resource, reduction_factor)` from the space's
  `[pruner]`; each epoch reports the objective metric at step = epoch (1-based).
- Objective: the metric at its best epoch (as `tuna tune`), `val_loss` or `val_accuracy`.

After the study, the best parameters are retrained once (seeded by the base seed, in the
main thread) and evaluated on the test files; prints one JSON line:
  {"seconds": study wall time, "best_value": ..., "test_accuracy": ..., "epochs": epochs
   trained in the study, "complete": ..., "pruned": ...}

  python benches/optuna_study.py examples/tune/mnist-mlp-space.toml --seed 0 --jobs 2 --threads 1
"""
import argparse
import copy
import json
import math
import pathlib
import re
import time
import tomllib

import numpy as np
import optuna
import torch
from torch import nn

from torch_mnist_augment import read_idx, stratified_split  # as the other MNIST twins

MEAN, STD = 0.1307, 0.3081


def load(folder, prefix):
    x = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz")
    y = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz")
    images = (torch.from_numpy(x.copy()).float() / 255.0 - MEAN) / STD
    return images.unsqueeze(1), torch.from_numpy(y.astype(np.int64))


PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def set_path(doc, path, value):
    parts = [int(i) if i else k for k, i in PATH_PART.findall(path)]
    node = doc
    for p in parts[:-1]:
        node = node[p]
    node[parts[-1]] = value


def get_path(doc, path):
    node = doc
    for k, i in PATH_PART.findall(path):
        node = node[int(i)] if i else node[k]
    return node


def suggest(trial, name, spec):
    if "uniform" in spec:
        return trial.suggest_float(name, *spec["uniform"])
    if "log_uniform" in spec:
        return trial.suggest_float(name, *spec["log_uniform"], log=True)
    if "int" in spec:
        low, high = spec["int"]
        return trial.suggest_int(name, low, high, step=spec.get("step", 1),
                                 log=spec.get("log", False))
    if "choice" in spec:
        return trial.suggest_categorical(name, spec["choice"])
    raise ValueError(f"{name}: unsupported distribution {spec}")


def apply(base, space, values):
    exp = copy.deepcopy(base)
    for name, v in values.items():
        set_path(exp, name, v)
    for name, spec in space["params"].items():
        if "same_as" in spec:
            set_path(exp, name, get_path(exp, spec["same_as"]))
    return exp


def build(layers):
    mods = []
    for layer in layers:
        t = layer["type"]
        if t == "Flatten":
            mods.append(nn.Flatten())
        elif t == "Linear":
            mods.append(nn.Linear(layer["in_features"], layer["out_features"],
                                  bias=layer.get("bias", True)))
        elif t == "ReLU":
            mods.append(nn.ReLU())
        elif t == "Dropout":
            mods.append(nn.Dropout(layer.get("p", 0.5)))
        else:
            raise ValueError(f"layer type {t} is not supported here")
    return nn.Sequential(*mods)


@torch.no_grad()
def evaluate(net, x, y, loss_fn, batch=1000):
    net.eval()
    total, correct = 0.0, 0
    for i in range(0, len(y), batch):
        out = net(x[i:i + batch])
        total += loss_fn(out, y[i:i + batch]).item() * len(out)
        correct += (out.argmax(1) == y[i:i + batch]).sum().item()
    return total / len(y), correct / len(y)


def train(exp, data, on_epoch=None, generator=None):
    """Trains `exp`; calls on_epoch(epoch, val_loss, val_acc) (may raise TrialPruned).
    Returns (best objective value, the net)."""
    (xtr, ytr), (xval, yval) = data["train"], data["val"]
    net = build(exp["model"]["layers"])
    loss_fn = nn.CrossEntropyLoss(label_smoothing=exp["loss"].get("label_smoothing", 0.0))
    o = exp["optimizer"]
    opt = torch.optim.SGD(net.parameters(), lr=o["lr"], momentum=o.get("momentum", 0.0),
                          nesterov=o.get("nesterov", False),
                          weight_decay=o.get("weight_decay", 0.0))
    batch = exp["loader"]["batch_size"]
    epochs = exp["train"]["epochs"]
    steps = math.ceil(len(ytr) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=exp["scheduler"]["max_lr"],
                                                total_steps=epochs * steps)
    for epoch in range(1, epochs + 1):
        net.train()
        perm = torch.randperm(len(ytr), generator=generator)
        for i in range(0, len(ytr), batch):
            idx = perm[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(net(xtr[idx]), ytr[idx]).backward()
            opt.step()
            sched.step()
        val_loss, val_acc = evaluate(net, xval, yval, loss_fn)
        if on_epoch:
            on_epoch(epoch, val_loss, val_acc)
    return net


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("space")
    ap.add_argument("--seed", type=int, default=None, help="study seed (default: the space's)")
    ap.add_argument("--trials", type=int, default=None)
    ap.add_argument("--jobs", type=int, default=1, help="Optuna n_jobs (threads)")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    ap.add_argument("--multivariate", choices=["true", "false"], default=None)
    ap.add_argument("--constant-liar", choices=["true", "false"], default=None)
    a = ap.parse_args()

    space_file = pathlib.Path(a.space).resolve()
    space = tomllib.loads(space_file.read_text())
    base_file = (space_file.parent / space["base"]).resolve()
    base = tomllib.loads(base_file.read_text())
    seed = space.get("seed", 0) if a.seed is None else a.seed
    trials = a.trials or space.get("trials", 20)
    metric = space["objective"]["metric"]
    direction = space["objective"].get("direction", "minimize")
    torch.set_num_threads(a.threads)

    folder = (base_file.parent / base["data"]["path"]).resolve()
    xtr, ytr = load(folder, "train")
    xte, yte = load(folder, "t10k")
    tr, val = stratified_split(ytr, base["data"]["validation"], base.get("seed", 0))
    data = {"train": (xtr[tr], ytr[tr]), "val": (xtr[val], ytr[val])}

    s = space.get("sampler", {})
    kwargs = {"seed": seed, "n_startup_trials": s.get("n_startup_trials", 10),
              "n_ei_candidates": s.get("n_ei_candidates", 24)}
    if a.multivariate:
        kwargs["multivariate"] = a.multivariate == "true"
    if a.constant_liar:
        kwargs["constant_liar"] = a.constant_liar == "true"
    sampler = optuna.samplers.TPESampler(**kwargs)
    p = space.get("pruner", {})
    pruner = optuna.pruners.SuccessiveHalvingPruner(
        min_resource=p.get("min_resource", "auto"),
        reduction_factor=p.get("reduction_factor", 4),
        min_early_stopping_rate=p.get("min_early_stopping_rate", 0))
    sampled = {k: v for k, v in space["params"].items() if "same_as" not in v}
    epochs_run = []

    def objective(trial):
        values = {name: suggest(trial, name, spec) for name, spec in sampled.items()}
        exp = apply(base, space, values)
        g = torch.Generator().manual_seed(base.get("seed", 0))
        history = []

        def on_epoch(epoch, val_loss, val_acc):
            v = val_loss if metric == "val_loss" else val_acc
            history.append(v)
            epochs_run.append(1)
            trial.report(v, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        train(exp, data, on_epoch, g)
        return min(history) if direction == "minimize" else max(history)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=direction, sampler=sampler, pruner=pruner)
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=trials, n_jobs=a.jobs)
    seconds = time.perf_counter() - t0

    best = study.best_trial
    exp = apply(base, space, best.params)
    torch.manual_seed(base.get("seed", 0))
    net = train(exp, data, None, torch.Generator().manual_seed(base.get("seed", 0)))
    _, test_acc = evaluate(net, xte, yte, nn.CrossEntropyLoss())
    states = [t.state for t in study.trials]
    print(json.dumps({
        "seconds": seconds, "best_value": best.value, "best_params": best.params,
        "test_accuracy": test_acc, "epochs": len(epochs_run),
        "complete": states.count(optuna.trial.TrialState.COMPLETE),
        "pruned": states.count(optuna.trial.TrialState.PRUNED),
        "optuna": optuna.__version__, "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
