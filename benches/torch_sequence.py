"""PyTorch reference for benches/sequence.rs (same shapes, forward + backward).

Run: OMP_NUM_THREADS=1 python benches/torch_sequence.py [--threads 1]
"""
import argparse
import time

import torch

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
torch.set_num_threads(parser.parse_args().threads)
torch.manual_seed(0)


def bench(name, step, reps=30, warmup=5):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    print(f"{name}: median {times[len(times) // 2] * 1e3:.3f} ms, min {times[0] * 1e3:.3f} ms")


lstm = torch.nn.LSTM(128, 128)
x = torch.rand(32, 32, 128) * 2 - 1


def lstm_step():
    lstm.zero_grad()
    xv = x.clone().requires_grad_()
    out, _ = lstm(xv)
    out.sum().backward()


mha = torch.nn.MultiheadAttention(64, 4, batch_first=True)
y = torch.rand(32, 64, 64) * 2 - 1


def mha_step():
    mha.zero_grad()
    yv = y.clone().requires_grad_()
    out, _ = mha(yv, yv, yv, need_weights=False)
    out.sum().backward()


bench("lstm_h128_seq32_b32_fwd_bwd", lstm_step)
bench("mha_d64_h4_seq64_b32_fwd_bwd", mha_step)
