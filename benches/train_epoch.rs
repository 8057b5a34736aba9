//! One training epoch of the shipped MNIST MLP experiment through the `Trainer` (data
//! loading, forward, backward, optimizer, evaluation, metrics), with and without the
//! diagnosis signals recorder, to measure what recording costs.
//!
//! `cargo bench --bench train_epoch`

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use tuna::data::DataContext;
use tuna::train::{Experiment, Trainer};

fn trainer(signals: bool) -> Trainer {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/configs/mnist-mlp.toml"
    );
    let exp = Experiment::load(
        path.as_ref(),
        &[
            "train.epochs=1".to_string(),
            format!("train.signals={signals}"),
            "train.test=false".to_string(),
        ],
    )
    .expect("config");
    let ctx = DataContext {
        base_dirs: vec![env!("CARGO_MANIFEST_DIR").into()],
        seed: 0,
        fitted: None,
    };
    Trainer::new(exp, &ctx).expect("trainer")
}

fn bench(c: &mut Criterion) {
    tuna::link_all();
    tuna::tensor::set_num_threads(1);
    let mut g = c.benchmark_group("mnist_mlp_epoch");
    g.sample_size(10);
    for signals in [false, true] {
        let name = if signals { "signals_on" } else { "signals_off" };
        g.bench_function(name, |b| {
            b.iter_batched(
                || trainer(signals),
                |mut t| t.fit().expect("fit"),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
