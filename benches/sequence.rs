//! Sequence models, forward + backward on one thread (compare with
//! `benches/torch_sequence.py`, same shapes):
//! * LSTM: input 128, hidden 128, seq 32, batch 32, `output.sum().backward()`.
//! * MultiheadAttention self-attention: d_model 64, 4 heads, seq 64, batch 32
//!   (batch first, `need_weights=False`), `output.sum().backward()`.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, Criterion};
use tuna::nn::{
    BuildContext, Lstm, LstmConfig, Module, MultiheadAttention, MultiheadAttentionConfig,
};
use tuna::{Tape, Tensor};

fn zero_grads(m: &dyn Module) {
    for (_, p) in m.named_parameters() {
        p.zero_grad();
    }
}

fn lstm(c: &mut Criterion) {
    let (seq, batch, input, hidden) = (32usize, 32usize, 128usize, 128usize);
    let lstm = Lstm::new(&LstmConfig::new(input, hidden), &mut BuildContext::new(0)).unwrap();
    let mut g = tuna::tensor::Generator::new(1);
    let x = Tensor::uniform(&[seq, batch, input], -1.0, 1.0, tuna::DType::F32, &mut g);
    c.bench_function("lstm_h128_seq32_b32_fwd_bwd", |b| {
        b.iter(|| {
            zero_grads(&lstm);
            let tape = Tape::new();
            let xv = tape.var(x.clone());
            let (out, _) = lstm.forward_with_state(xv, None);
            out.sum().backward();
        })
    });
}

fn attention(c: &mut Criterion) {
    let (seq, batch, d, heads) = (64usize, 32usize, 64usize, 4usize);
    let mut spec = MultiheadAttentionConfig::new(d, heads);
    spec.batch_first = true;
    let mha = MultiheadAttention::new(&spec, &mut BuildContext::new(0)).unwrap();
    let mut g = tuna::tensor::Generator::new(2);
    let x = Tensor::uniform(&[batch, seq, d], -1.0, 1.0, tuna::DType::F32, &mut g);
    c.bench_function("mha_d64_h4_seq64_b32_fwd_bwd", |b| {
        b.iter(|| {
            zero_grads(&mha);
            let tape = Tape::new();
            let xv = tape.var(x.clone());
            let (out, _) = mha.forward_full(xv, xv, xv, None, false, None, true, false);
            out.sum().backward();
        })
    });
}

fn config() -> Criterion {
    let threads = std::env::var("TUNA_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    tuna::tensor::set_num_threads(threads);
    Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
}

criterion_group! { name = benches; config = config(); targets = lstm, attention }
criterion_main!(benches);
