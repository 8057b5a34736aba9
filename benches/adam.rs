//! W5: one Adam step (lr 1e-3, PyTorch defaults otherwise) over a flat 10M-parameter f32
//! tensor with gradients, on one thread (`../shared/bench/torch_bench.py --workload w5`;
//! PyTorch's fused Adam takes ~11.8 ms here).
//!
//! Memory bound: the step reads p, g, m, v and writes p, m, v — 7 × 40 MB = 280 MB per step —
//! in one fused, branch-free pass (bias corrections precomputed per step).

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, Criterion};
use tuna::autograd::Param;
use tuna::optim::{AdamConfig, OptimizerConfig};

#[path = "support/mod.rs"]
mod benchutil;
use benchutil::*;

fn w5(c: &mut Criterion) {
    tuna::tensor::set_num_threads(1);
    let n = 10_000_000;
    let p = Param::new(tensor(uniform(7, n, -1.0, 1.0), &[n]));
    p.set_grad(Some(tensor(uniform(8, n, -1.0, 1.0), &[n])));
    let cfg = AdamConfig {
        lr: 1e-3,
        ..Default::default()
    };
    let mut opt = cfg.build(vec![("p".into(), p)], &[]).expect("adam");
    let mut g = c.benchmark_group("W5_adam_10M");
    g.sample_size(20);
    g.bench_function("tuna-adam", |b| b.iter(|| opt.step().expect("step")));
    g.finish();
}

criterion_group!(benches, w5);
criterion_main!(benches);
