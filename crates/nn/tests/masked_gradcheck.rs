//! Gradient checks in f64 against central finite differences for the length-aware paths:
//! the masked recurrence (hand-written backward through time that holds the state of
//! finished samples), `SequencePool`, `PositionalEmbedding` and attention with the padding
//! mask of a `ForwardContext`; gradients with respect to the inputs and states
//! (`tuna_autograd::gradcheck`) and to every parameter.

use tuna_autograd::gradcheck::gradcheck;
use tuna_autograd::{Tape, Var};
use tuna_fixtures::seeded_tensor;
use tuna_nn::{
    BuildContext, ForwardContext, Gru, GruConfig, LayerConfig, Lstm, LstmConfig, Module,
    MultiheadAttention, MultiheadAttentionConfig, PoolMode, PositionalEmbedding,
    PositionalEmbeddingConfig, Rnn, RnnConfig, SequencePool, TransformerEncoderLayer,
    TransformerEncoderLayerConfig,
};
use tuna_tensor::{DType, Tensor};

fn ctx() -> BuildContext {
    let mut c = BuildContext::new(11);
    c.dtype = DType::F64;
    c
}

/// Checks every parameter gradient of `forward` against central differences of
/// `Σ out ⊙ u` for a fixed `u`.
fn check_params(module: &dyn Module, forward: &dyn for<'t> Fn(&'t Tape) -> Var<'t>) {
    let eps = 1e-6;
    for (_, p) in module.named_parameters() {
        p.zero_grad();
    }
    let tape = Tape::new();
    let out = forward(&tape);
    let u = seeded_tensor(out.shape().as_slice(), 99, -1.0, 1.0);
    out.backward_with(u.clone());
    let objective = || {
        let tape = Tape::new();
        forward(&tape).value().mul(&u).sum().item()
    };
    for (name, p) in module.named_parameters() {
        let analytic = p.grad().expect("a gradient").to_vec_f64();
        let base = p.value().to_dtype(DType::F64).contiguous();
        for e in 0..base.numel() {
            let at = |delta: f64| {
                let mut t = base.copy_contiguous();
                t.data_mut::<f64>()[e] += delta;
                p.set_value(t);
                objective()
            };
            let numerical = (at(eps) - at(-eps)) / (2.0 * eps);
            p.set_value(base.clone());
            let a = analytic[e];
            assert!(
                (a - numerical).abs() <= 1e-5 + 1e-3 * numerical.abs(),
                "{name}[{e}]: analytic {a:e}, numerical {numerical:e}"
            );
        }
    }
}

/// Batch of 3 padded to 4 steps: one full, one of length 1, one of 2.
const LENGTHS: [usize; 3] = [4, 1, 2];
/// All shorter than the padded length 4 (the last step is idle for every sample).
const SHORT: [usize; 3] = [3, 1, 2];

fn flat<'t>(tape: &'t Tape, parts: &[Var<'t>]) -> Var<'t> {
    let parts: Vec<Var<'t>> = parts.iter().map(|p| p.reshape(&[-1])).collect();
    tape.cat(&parts, 0)
}

#[test]
fn masked_lstm_two_layers_bidirectional_projected() {
    let mut s = LstmConfig::new(3, 4);
    s.num_layers = 2;
    s.bidirectional = true;
    s.proj_size = 2;
    s.batch_first = true;
    let lstm = Lstm::new(&s, &mut ctx()).unwrap();
    let x = seeded_tensor(&[3, 4, 3], 1, -1.0, 1.0);
    let h0 = seeded_tensor(&[4, 3, 2], 2, -1.0, 1.0);
    let c0 = seeded_tensor(&[4, 3, 4], 3, -1.0, 1.0);
    for lengths in [LENGTHS, SHORT] {
        gradcheck(
            |tape, v| {
                let (o, (h, c)) =
                    lstm.forward_with_state_lengths(v[0], Some((v[1], v[2])), Some(&lengths));
                flat(tape, &[o, h, c])
            },
            &[x.clone(), h0.clone(), c0.clone()],
        )
        .unwrap();
        check_params(&lstm, &|tape| {
            let c = |t: &Tensor| tape.constant(t.clone());
            let (o, (h, cn)) =
                lstm.forward_with_state_lengths(c(&x), Some((c(&h0), c(&c0))), Some(&lengths));
            flat(tape, &[o, h, cn])
        });
    }
}

#[test]
fn masked_gru_and_rnn_bidirectional_sequence_first() {
    let mut s = GruConfig::new(3, 4);
    s.bidirectional = true;
    s.num_layers = 2;
    let gru = Gru::new(&s, &mut ctx()).unwrap();
    let mut s = RnnConfig::new(3, 4);
    s.bidirectional = true;
    let rnn = Rnn::new(&s, &mut ctx()).unwrap();
    let x = seeded_tensor(&[4, 3, 3], 4, -1.0, 1.0); // (L, N, H_in)
    for lengths in [LENGTHS, SHORT] {
        let h0 = seeded_tensor(&[4, 3, 4], 5, -1.0, 1.0);
        gradcheck(
            |tape, v| {
                let (o, h) = gru.forward_with_state_lengths(v[0], Some(v[1]), Some(&lengths));
                flat(tape, &[o, h])
            },
            &[x.clone(), h0.clone()],
        )
        .unwrap();
        check_params(&gru, &|tape| {
            let (o, h) = gru.forward_with_state_lengths(
                tape.constant(x.clone()),
                Some(tape.constant(h0.clone())),
                Some(&lengths),
            );
            flat(tape, &[o, h])
        });
        let h0 = h0.narrow(0, 0, 2);
        gradcheck(
            |tape, v| {
                let (o, h) = rnn.forward_with_state_lengths(v[0], Some(v[1]), Some(&lengths));
                flat(tape, &[o, h])
            },
            &[x.clone(), h0.clone()],
        )
        .unwrap();
        check_params(&rnn, &|tape| {
            let ctx = ForwardContext::with_lengths(lengths);
            rnn.forward_with(tape.constant(x.clone()), &ctx)
        });
    }
}

#[test]
fn sequence_pool_every_mode() {
    let x = seeded_tensor(&[3, 4, 6], 6, -1.0, 1.0);
    for mode in [
        PoolMode::Mean,
        PoolMode::Max,
        PoolMode::First,
        PoolMode::Last,
    ] {
        for bidirectional in [false, true] {
            let pool = SequencePool::new(mode, bidirectional);
            gradcheck(
                |_, v| pool.pool(v[0], Some(&LENGTHS)),
                std::slice::from_ref(&x),
            )
            .unwrap();
        }
    }
}

#[test]
fn learned_positions_with_dropout_off() {
    let spec = PositionalEmbeddingConfig::new(3, Some(6));
    let pe = PositionalEmbedding::new(&spec, &mut ctx()).unwrap();
    let x = seeded_tensor(&[2, 4, 3], 7, -1.0, 1.0);
    gradcheck(|_, v| pe.forward(v[0]), std::slice::from_ref(&x)).unwrap();
    check_params(&pe, &|tape| pe.forward(tape.constant(x.clone())));
}

#[test]
fn attention_with_the_padding_mask_of_the_context() {
    let mut s = MultiheadAttentionConfig::new(4, 2);
    s.batch_first = true;
    s.causal = true;
    let mha = MultiheadAttention::new(&s, &mut ctx()).unwrap();
    let mut s = TransformerEncoderLayerConfig::new(4, 2);
    s.dim_feedforward = 6;
    s.dropout = 0.0;
    s.batch_first = true;
    let layer = TransformerEncoderLayer::new(&s, &mut ctx()).unwrap();
    let x = seeded_tensor(&[3, 4, 4], 8, -1.0, 1.0);
    let fctx = ForwardContext::with_lengths(LENGTHS);
    gradcheck(
        |_, v| mha.forward_with(v[0], &fctx),
        std::slice::from_ref(&x),
    )
    .unwrap();
    gradcheck(
        |_, v| layer.forward_with(v[0], &fctx),
        std::slice::from_ref(&x),
    )
    .unwrap();
    check_params(&mha, &|tape| {
        mha.forward_with(tape.constant(x.clone()), &fctx)
    });
    check_params(&layer, &|tape| {
        layer.forward_with(tape.constant(x.clone()), &fctx)
    });
}

#[test]
fn a_spec_built_model_checks_its_own_gradients() {
    // the text classifier of the integration test, in f64: every parameter, lengths given
    let spec: Box<dyn LayerConfig> = toml::from_str(
        r#"
        type = "Sequential"
        layers = [
          { type = "Embedding", num_embeddings = 7, embedding_dim = 3, padding_idx = 0 },
          { type = "GRU", input_size = 3, hidden_size = 2, batch_first = true, bidirectional = true },
          { type = "SequencePool", mode = "last", bidirectional = true },
          { type = "Linear", in_features = 4, out_features = 2 },
        ]
        "#,
    )
    .unwrap();
    let model = spec.build(&mut ctx()).unwrap();
    let ids = Tensor::from_vec(vec![3i64, 1, 4, 1, 5, 0, 0, 0, 2, 6, 0, 0], &[3, 4]);
    let fctx = ForwardContext::with_lengths(LENGTHS);
    check_params(model.as_ref(), &|tape| {
        model.forward_with(tape.constant(ids.clone()), &fctx)
    });
}
