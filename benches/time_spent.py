"""Where the wall time of every shipped experiment goes: the model's compute and the data
against everything else (evaluation, callbacks such as the signals recorder, checkpoints, the
run folder's records, the rest of the loop), read from each run's summary.json `time`, plus
the process's own start-up and shut-down (process wall time minus training wall time).

  cargo build --release
  python benches/time_spent.py [--epochs 3] [--configs iris,mnist-mlp] [--threads 1]

Each config in examples/configs runs once (`tuna train --epochs N`, pinned, N = 3 by default so
the whole table takes minutes: a longer run spreads the fixed costs of the first and last
epoch, the test pass and the final files over more epochs, so its share is lower). iris runs
its full 100 epochs (it is the one-second job). Prints a Markdown table; nothing else may run
meanwhile. An experiment whose data is missing (digits-folder needs
`cargo run --release --example export_digits` first) is listed as skipped with its error.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

from pinning import environment, pinned

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TUNA = os.path.join(REPO, "target", "release", "tuna")
PARTS = ["steps", "data", "evaluation", "callbacks", "checkpoints", "records", "other"]


def run(config, epochs, threads, work):
    name = os.path.splitext(os.path.basename(config))[0]
    out = os.path.join(work, name)
    cmd = pinned(threads) + [TUNA, "train", config, "--quiet", "--out", out]
    if epochs and name != "iris":
        cmd += ["--epochs", str(epochs)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=environment(threads), stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, cwd=REPO)
    process = time.perf_counter() - t0
    if done.returncode != 0:
        return name, None, done.stderr.strip().splitlines()[-1], None, None
    summary = json.load(open(os.path.join(out, "summary.json")))
    return name, summary["epochs_completed"], process, summary["wall_seconds"], summary["time"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--configs", default=None, help="comma-separated names (default: all)")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    configs = sorted(glob.glob(os.path.join(REPO, "examples", "configs", "*.toml")))
    if a.configs:
        wanted = set(a.configs.split(","))
        configs = [c for c in configs if os.path.splitext(os.path.basename(c))[0] in wanted]
    print("| experiment | epochs | training (s) | start-up + shut-down (s) | "
          + " | ".join(PARTS) + " | not compute or data |")
    print("|---|---|---|---|" + "---|" * (len(PARTS) + 1))
    with tempfile.TemporaryDirectory() as work:
        for config in configs:
            name, epochs, process, wall, t = run(config, a.epochs, a.threads, work)
            if epochs is None:
                print(f"| {name} | skipped: {process} |", flush=True)
                continue
            total = sum(t[p] for p in PARTS)
            share = (total - t["steps"] - t["data"]) / total
            cells = " | ".join(f"{100 * t[p] / total:.1f} %" for p in PARTS)
            print(f"| {name} | {epochs} | {wall:.2f} | {process - wall:.2f} | {cells} "
                  f"| **{100 * share:.1f} %** |", flush=True)
            print(f"{name}: {share:.3f} not compute", file=sys.stderr)


if __name__ == "__main__":
    main()
