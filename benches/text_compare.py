"""Tuna against PyTorch on the shipped text experiments, side by side in one sitting.

For every model and seed, runs `tuna train examples/configs/MODEL.toml` and its PyTorch twin
(benches/torch_text.py) one after the other, alternating which goes first, both pinned to the
same cores with the same thread count, on the same split files (scikit-learn's 80/10/10 split
of ../shared/data/README.md, written once by `torch_text.py split`). Prints a Markdown table:
test accuracy and minority-class F1 (median over the seeds, with the range) and the median
epoch wall time (training plus the validation pass; each side's first epoch left out).

  cargo build --release
  python benches/text_compare.py [--models spam-bag,spam-lstm] [--seeds 0,1,2]
                                 [--epochs N] [--threads 1] [--out table.md]

Needs PyTorch and scikit-learn in the Python that runs it; nothing else may run meanwhile.
`--epochs N` caps both sides (for epoch times alone; accuracies then are not the configs').
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from pinning import environment, pinned

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TUNA = os.path.join(REPO, "target", "release", "tuna")
MODELS = ["names-gru", "spam-bag", "spam-lstm", "spam-transformer"]




def run_tuna(model, split, seed, epochs, threads, work):
    kind, ext = ("names", "csv") if model.startswith("names") else ("spam", "jsonl")
    files = {p: os.path.join(split, kind, f"{p}.{ext}") for p in ("train", "val", "test")}
    out = os.path.join(work, f"{model}-{seed}")
    cmd = pinned(threads) + [
        TUNA, "train", os.path.join(REPO, "examples", "configs", model + ".toml"),
        "--quiet", "--out", out,
        "--set", f"seed={seed}",
        "--set", f"data.path={json.dumps(files['train'])}",
        "--set", f"data.validation={json.dumps(files['val'])}",
        "--set", f"data.test={json.dumps(files['test'])}",
    ]
    if epochs:
        cmd += ["--epochs", str(epochs)]
    subprocess.run(cmd, check=True, env=environment(threads), stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    with open(os.path.join(out, "metrics.jsonl")) as f:
        seconds = [json.loads(line)["seconds"] for line in f if line.strip()]
    cm = summary.get("confusion_matrix")
    f1 = None
    if cm and len(cm) == 2:
        tp, fp, fn = cm[1][1], cm[0][1], cm[1][0]
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {
        "side": "tuna",
        "test_accuracy": summary["test"]["test_accuracy"],
        "minority_f1": f1,
        "best_epoch": summary["best_epoch"],
        "epoch_seconds": seconds,
    }


def run_torch(model, split, seed, epochs, threads):
    cmd = pinned(threads) + [
        sys.executable, os.path.join(HERE, "torch_text.py"), "train", model,
        "--data", split, "--seed", str(seed), "--threads", str(threads),
    ]
    if epochs:
        cmd += ["--epochs", str(epochs)]
    out = subprocess.run(cmd, check=True, env=environment(threads), capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def spread(values, fmt):
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    med = statistics.median(values)
    return fmt(med) if len(values) == 1 else f"{fmt(med)} ({fmt(min(values))}-{fmt(max(values))})"


def epoch_time(runs):
    """Median over all runs of the epochs after the first."""
    times = [t for r in runs for t in (r["epoch_seconds"][1:] or r["epoch_seconds"])]
    return statistics.median(times)


def table(results, seeds, threads):
    pct = lambda v: f"{100 * v:.2f} %"
    f1 = lambda v: f"{v:.3f}"
    lines = [
        f"| model | Tuna test accuracy | PyTorch | Tuna minority F1 | PyTorch | Tuna s/epoch | PyTorch s/epoch | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model, sides in results.items():
        t, p = sides["tuna"], sides["pytorch"]
        et, ep = epoch_time(t), epoch_time(p)
        lines.append(
            f"| {model} | {spread([r['test_accuracy'] for r in t], pct)} "
            f"| {spread([r['test_accuracy'] for r in p], pct)} "
            f"| {spread([r['minority_f1'] for r in t], f1)} | {spread([r['minority_f1'] for r in p], f1)} "
            f"| {et:.2f} | {ep:.2f} | {et / ep:.2f}× |"
        )
    lines.append("")
    lines.append(f"Seeds {', '.join(map(str, seeds))}; {threads} thread(s); medians (ranges).")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args()
    if not os.path.exists(TUNA):
        sys.exit(f"{TUNA} not found: run `cargo build --release` first")
    models = args.models.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    work = tempfile.mkdtemp(prefix="tuna-text-compare-")
    split = os.path.join(work, "split")
    subprocess.run([sys.executable, os.path.join(HERE, "torch_text.py"), "split", split], check=True)
    results = {}
    for model in models:
        results[model] = {"tuna": [], "pytorch": []}
        for n, seed in enumerate(seeds):
            order = ["tuna", "pytorch"] if n % 2 == 0 else ["pytorch", "tuna"]
            for side in order:
                if side == "tuna":
                    r = run_tuna(model, split, seed, args.epochs, args.threads, work)
                else:
                    r = run_torch(model, split, seed, args.epochs, args.threads)
                results[model][side].append(r)
                print(f"{model} seed {seed} {side}: {json.dumps(r)}", file=sys.stderr, flush=True)
    text = table(results, seeds, args.threads)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
