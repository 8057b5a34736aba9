"""Tuna's criterion benches against the PyTorch reference workloads, side by side in one sitting.

For each workload, runs Tuna's bench and the PyTorch script alternately (`--reps` times each,
which side goes first alternating), both pinned to the same cores with the same thread count,
and prints the Markdown table the book's Performance chapter shows: the median of each side's
per-rep medians, the range over reps, and the ratio of the medians.

  cargo bench --no-run                          # build the benches once
  python benches/compare.py [--threads 1] [--reps 3] [--workloads W2_b64,W3,lstm]
                            [--out table.md]

Needs PyTorch in the Python that runs it (`../shared/bench/torch_bench.py` for W2-W5,
`benches/torch_sequence.py`, `benches/torch_resnet_step.py`); nothing else may run meanwhile:
on a busy machine both sides slow down by different amounts.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

from pinning import environment, pinned

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.path.join(REPO, "..", "shared", "bench", "torch_bench.py")

# id: (what, Tuna bench target, criterion id, PyTorch command (after python), PyTorch result key)
WORKLOADS = {
    "W4": ("W4: Linear(10,1) + MSE + SGD step, batch 32", "overhead", "W4_tiny_step/b32",
           [SHARED, "--workload", "w4"], ("W4_tiny_step", "b32", None)),
    "W2_b64": ("W2: MLP 784-256-128-10 step, batch 64", "train_step", "W2_mlp_step/b64",
               [SHARED, "--workload", "w2", "--batches", "64"], ("W2_mlp_step", "b64", None)),
    "W2_b256": ("W2: MLP step, batch 256", "train_step", "W2_mlp_step/b256",
                [SHARED, "--workload", "w2", "--batches", "256"], ("W2_mlp_step", "b256", None)),
    "W3": ("W3: LeNet CNN step, batch 64", "train_step", "W3_cnn_step/b64",
           [SHARED, "--workload", "w3"], ("W3_cnn_step", "b64", None)),
    "W5": ("W5: Adam step, 10 M parameters (PyTorch fused)", "adam", "W5_adam_10M/tuna-adam",
           [SHARED, "--workload", "w5"], ("W5_adam_10M", "10M", "adam-fused")),
    "lstm": ("LSTM hidden 128, seq 32, batch 32, forward + backward", "sequence",
             "lstm_h128_seq32_b32_fwd_bwd", [os.path.join(HERE, "torch_sequence.py")],
             "lstm_h128_seq32_b32_fwd_bwd"),
    "mha": ("attention d 64, 4 heads, seq 64, batch 32, forward + backward", "sequence",
            "mha_d64_h4_seq64_b32_fwd_bwd", [os.path.join(HERE, "torch_sequence.py")],
            "mha_d64_h4_seq64_b32_fwd_bwd"),
    "W6": ("W6: ResNet-8 step, batch 128", "train_step", "W6_resnet8_step/b128",
           [os.path.join(HERE, "torch_resnet_step.py")], "W6_resnet8_step/b128"),
}
UNITS = {"ps": 1e-12, "ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}




def bench_binaries():
    """Bench target name -> executable, from `cargo bench --no-run`."""
    out = subprocess.run(["cargo", "bench", "--no-run", "--message-format=json"], cwd=REPO,
                         check=True, capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        msg = json.loads(line)
        target = msg.get("target", {})
        if msg.get("reason") == "compiler-artifact" and "bench" in target.get("kind", []) and msg.get("executable"):
            found[target["name"]] = msg["executable"]
    return found


def run_tuna(binary, bench_id, threads):
    """Criterion's median estimate (seconds) of `bench_id`."""
    cmd = pinned(threads) + [binary, "--bench", "--noplot", "^" + re.escape(bench_id) + "$"]
    out = subprocess.run(cmd, check=True, env=environment(threads), capture_output=True, text=True).stdout
    m = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", out)
    if not m:
        sys.exit(f"no criterion estimate for {bench_id} in:\n{out}")
    return float(m.group(1)) * UNITS[m.group(2)]


def run_torch(cmd, key, threads):
    """The PyTorch script's median (seconds) for `key`."""
    full = pinned(threads) + [sys.executable] + cmd + ["--threads", str(threads)]
    out = subprocess.run(full, check=True, env=environment(threads), capture_output=True, text=True).stdout
    for line in out.splitlines():
        if isinstance(key, tuple) and line.startswith("{"):
            d = json.loads(line)
            workload, param, variant = key
            if d.get("workload") == workload and d.get("param") == param and variant in (None, d.get("variant")):
                return d["median_s"]
        elif isinstance(key, str) and line.startswith(key):
            return float(re.search(r"median ([0-9.]+) ms", line).group(1)) * 1e-3
    sys.exit(f"no PyTorch median for {key} in:\n{out}")


def human(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def spread(values):
    med = statistics.median(values)
    return f"{human(med)} ({human(min(values))}–{human(max(values))})"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated: " + ", ".join(WORKLOADS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args()
    chosen = args.workloads.split(",")
    unknown = [w for w in chosen if w not in WORKLOADS]
    if unknown:
        sys.exit(f"unknown workload(s) {unknown}; known: {', '.join(WORKLOADS)}")
    binaries = bench_binaries()
    rows = [
        f"| workload | Tuna ({args.threads} thread{'s' if args.threads > 1 else ''}) | PyTorch | ratio (medians) |",
        "|---|---|---|---|",
    ]
    for w in chosen:
        what, target, bench_id, torch_cmd, key = WORKLOADS[w]
        if w in ("lstm", "mha") and args.threads != 1:
            continue
        tuna, torch = [], []
        for rep in range(args.reps):
            for side in (("tuna", "torch") if rep % 2 == 0 else ("torch", "tuna")):
                if side == "tuna":
                    tuna.append(run_tuna(binaries[target], bench_id, args.threads))
                else:
                    torch.append(run_torch(torch_cmd, key, args.threads))
            print(f"{w} rep {rep}: Tuna {human(tuna[-1])}, PyTorch {human(torch[-1])}", file=sys.stderr, flush=True)
        ratio = statistics.median(tuna) / statistics.median(torch)
        rows.append(f"| {what} | {spread(tuna)} | {spread(torch)} | {ratio:.2f}× |")
    rows.append("")
    rows.append(f"Medians over {args.reps} alternating reps per side (ranges in parentheses), pinned with taskset.")
    table = "\n".join(rows)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
