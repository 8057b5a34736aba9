"""A whole `tuna tune` study against the same study in Optuna 5 + PyTorch, side by side.

For each study seed, runs `tuna tune SPACE --jobs J` (each TPE variant asked for) and
benches/optuna_study.py (the same space, TPE, pruner and budget; Optuna's n_jobs=J threads,
torch.set_num_threads(1), the faster of its two layouts on this 2-core machine) one after the
other, alternating which goes first. Then each side's best parameters are retrained once and
evaluated on the test files (Tuna: `tuna train best.toml`). Prints a Markdown table: study wall
time and test accuracy of the retrained best, median over the seeds with the range, and the
epochs each study trained; `--out F` writes the raw results as JSON too.

  cargo build --release
  python benches/study_compare.py [--space examples/tune/mnist-mlp-space.toml]
      [--seeds 0,1,2] [--jobs 2] [--variants independent,multivariate+liar] [--no-optuna]

TPE variants of the Tuna side: `independent`, `multivariate`, `liar`, `multivariate+liar`
(the space's [sampler] with `multivariate` / `constant_liar` set). Needs Optuna and PyTorch in
the Python that runs it; nothing else may run meanwhile.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from pinning import environment

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TUNA = os.path.join(REPO, "target", "release", "tuna")
VARIANTS = {
    "independent": (False, False),
    "multivariate": (True, False),
    "liar": (False, True),
    "multivariate+liar": (True, True),
}


def space_copy(space, seed, variant, work):
    """The space file with an absolute base, study seed `seed` and the TPE variant."""
    text = open(space).read()
    base = re.search(r'^base\s*=\s*"([^"]+)"', text, re.M).group(1)
    base = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(space)), base))
    text = re.sub(r'^base\s*=.*$', f'base = {json.dumps(base)}', text, count=1, flags=re.M)
    text = re.sub(r'^seed\s*=.*$', f'seed = {seed}', text, count=1, flags=re.M)
    multivariate, liar = VARIANTS[variant]
    text = re.sub(r'^\[sampler\]\s*$',
                  f'[sampler]\nmultivariate = {str(multivariate).lower()}\n'
                  f'constant_liar = {str(liar).lower()}', text, count=1, flags=re.M)
    path = os.path.join(work, f"space-{variant}-{seed}.toml")
    open(path, "w").write(text)
    return path


def run_tuna(space, seed, variant, jobs, work):
    study = os.path.join(work, f"tuna-{variant}-{seed}")
    t0 = time.perf_counter()
    subprocess.run([TUNA, "tune", space_copy(space, seed, variant, work), "--jobs", str(jobs),
                    "--quiet", "--out", study], check=True, env=environment(1),
                   stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    trials = [json.loads(l) for l in open(os.path.join(study, "trials.jsonl")) if l.strip()]
    run = os.path.join(work, f"tuna-{variant}-{seed}-best")
    subprocess.run([TUNA, "train", os.path.join(study, "best.toml"), "--quiet", "--out", run],
                   check=True, env=environment(1), stdout=subprocess.DEVNULL)
    summary = json.load(open(os.path.join(run, "summary.json")))
    return {
        "seconds": seconds,
        "test_accuracy": summary["test"]["test_accuracy"],
        "epochs": sum(len(t["intermediate"]) for t in trials),
        "complete": sum(t["state"] == "complete" for t in trials),
    }


def run_optuna(space, seed, jobs):
    out = subprocess.run([sys.executable, os.path.join(HERE, "optuna_study.py"), space,
                          "--seed", str(seed), "--jobs", str(jobs), "--threads", "1"],
                         check=True, env=environment(1), capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cell(values, fmt):
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--space", default=os.path.join(REPO, "examples", "tune",
                                                    "mnist-mlp-space.toml"))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--variants", default="independent,multivariate+liar")
    ap.add_argument("--no-optuna", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    variants = a.variants.split(",")
    results = {v: [] for v in variants}
    if not a.no_optuna:
        results["optuna"] = []
    with tempfile.TemporaryDirectory() as work:
        for i, seed in enumerate(seeds):
            sides = list(results)
            if i % 2:
                sides.reverse()
            for side in sides:
                if side == "optuna":
                    r = run_optuna(a.space, seed, a.jobs)
                else:
                    r = run_tuna(a.space, seed, side, a.jobs, work)
                r["seed"] = seed
                results[side].append(r)
                print(f"seed {seed} {side}: {r['seconds']:.0f} s, {r['epochs']} epochs, "
                      f"test accuracy {100 * r['test_accuracy']:.2f} %", file=sys.stderr)
    print(f"| study ({len(seeds)} seeds, --jobs {a.jobs}) | wall time (s) | epochs trained "
          "| retrained best, test accuracy (%) |")
    print("|---|---|---|---|")
    for side, rs in results.items():
        name = "Optuna 5 + PyTorch (TPE defaults)" if side == "optuna" else f"Tuna, TPE {side}"
        print(f"| {name} | {cell([r['seconds'] for r in rs], '{:.0f}')} "
              f"| {cell([r['epochs'] for r in rs], '{:.0f}')} "
              f"| {cell([100 * r['test_accuracy'] for r in rs], '{:.2f}')} |")
    if a.out:
        json.dump(results, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
