//! W4, the per-op overhead probe: one training step of Linear(10,1) + MSE + SGD(lr 0.01) at
//! batch 32 (`../shared/bench/torch_bench.py --workload w4`; PyTorch eager takes ~175 µs here).

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, Criterion};
use tuna::autograd::{Param, Tape};

#[path = "support/mod.rs"]
mod benchutil;
use benchutil::*;

fn w4(c: &mut Criterion) {
    tuna::tensor::set_num_threads(1);
    let w = Param::new(tensor(init_param(300, 10, 10), &[1, 10]));
    let b = Param::new(tensor(init_param(301, 1, 10), &[1]));
    let x = tensor(uniform(5, 320, -1.0, 1.0), &[32, 10]);
    let y = tensor(uniform(6, 32, -1.0, 1.0), &[32, 1]);
    let lr = 0.01;
    c.bench_function("W4_tiny_step/b32", |bench| {
        bench.iter(|| {
            let loss = {
                let tape = Tape::new();
                let (xv, yv) = (tape.constant(x.clone()), tape.constant(y.clone()));
                let pred = xv.matmul(tape.param(&w).t()).add(tape.param(&b));
                let loss = pred.sub(yv).square().mean();
                loss.backward();
                loss.item()
            };
            for p in [&w, &b] {
                let g = p.grad().expect("grad");
                p.update(|v| v.add_scaled_(&g, -lr));
                p.zero_grad();
            }
            loss
        })
    });
}

criterion_group!(benches, w4);
criterion_main!(benches);
