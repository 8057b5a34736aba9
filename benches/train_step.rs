//! W2 (MLP 784-256-128-10, batch 64 and 256), W3 (LeNet-style CNN, batch 64) and W6 (the
//! ResNet-8 of `examples/configs/resnet-cifar.toml`, batch 128, BatchNorm in training mode)
//! training steps: forward, cross-entropy, backward, SGD(lr 0.01, momentum 0.9), on the
//! shared data (`../shared/bench/torch_bench.py --workload w2|w3`; W6:
//! `benches/torch_resnet_step.py`). `TUNA_NUM_THREADS=2` for two threads.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "support/mod.rs"]
mod benchutil;
use benchutil::*;

fn w2(c: &mut Criterion) {
    for b in [64usize, 256] {
        let mut model = Workload::mlp(b);
        let (x, y) = mlp_data(b);
        c.bench_function(&format!("W2_mlp_step/b{b}"), |bench| {
            bench.iter(|| model.step(&x, &y))
        });
    }
}

fn w3(c: &mut Criterion) {
    let mut model = Workload::cnn(64);
    let (x, y) = cnn_data(64);
    c.bench_function("W3_cnn_step/b64", |bench| bench.iter(|| model.step(&x, &y)));
}

fn w6(c: &mut Criterion) {
    let mut model = Workload::resnet8(128);
    let (x, y) = resnet_data(128);
    c.bench_function("W6_resnet8_step/b128", |bench| {
        bench.iter(|| model.step(&x, &y))
    });
}

fn config() -> Criterion {
    let threads = std::env::var("TUNA_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    tuna::tensor::set_num_threads(threads);
    Criterion::default()
}

criterion_group! { name = benches; config = config(); targets = w2, w3, w6 }
criterion_main!(benches);
