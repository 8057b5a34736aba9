"""Shared by benches/compare.py and benches/text_compare.py: pinning a side to the first
`threads` cores and giving every framework the same thread count."""
import os
import shutil


def pinned(threads):
    """`taskset -c 0..threads-1` (nothing where taskset is missing)."""
    cores = ",".join(str(c) for c in range(threads))
    return ["taskset", "-c", cores] if shutil.which("taskset") else []


def environment(threads):
    """The environment with every framework's thread count set to `threads`."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               TUNA_NUM_THREADS=str(threads), BENCH_THREADS=str(threads))
    return env
