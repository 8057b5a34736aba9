//! Sequence models and attention: an LSTM built from a config and run with explicit state, a
//! multi-head attention call with a padding mask, and a Transformer encoder stack.
//!
//! Run with `cargo run --release --example sequence_models`.

use tuna::nn::{
    BuildContext, LayerConfig, Lstm, MultiheadAttention, MultiheadAttentionConfig,
    TransformerEncoder,
};
use tuna::{DType, Tape, Tensor};

/// Builds and runs each model once (also run as a test by `tests/examples_run.rs`).
pub fn main() {
    // ANCHOR: lstm
    let spec: Box<dyn LayerConfig> = toml::from_str(
        r#"
        type = "LSTM"
        input_size = 8
        hidden_size = 16
        num_layers = 2
        batch_first = true
        dropout = 0.1
        bidirectional = true
        "#,
    )
    .expect("a valid LSTM config");
    let model = spec
        .build(&mut BuildContext::new(0))
        .expect("valid options");
    // PyTorch's names: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._reverse
    assert_eq!(model.named_parameters()[0].0, "weight_ih_l0");
    let lstm: &Lstm = model
        .as_any()
        .and_then(|m| m.downcast_ref())
        .expect("an LSTM");

    let tape = Tape::new();
    let x = tape.constant(Tensor::zeros(&[4, 10, 8], DType::F32)); // (N, L, H_in)
    let (output, (h_n, c_n)) = lstm.forward_with_state(x, None);
    assert_eq!(output.shape().as_slice(), &[4, 10, 32]); // (N, L, D·H)
    assert_eq!(h_n.shape().as_slice(), &[4, 4, 16]); // (num_layers·D, N, H)
    assert_eq!(c_n.shape().as_slice(), &[4, 4, 16]);
    output.sum().backward();
    // ANCHOR_END: lstm

    // ANCHOR: attention
    let mut spec = MultiheadAttentionConfig::new(16, 4);
    spec.batch_first = true;
    let mha = MultiheadAttention::new(&spec, &mut BuildContext::new(1)).expect("valid options");
    let tape = Tape::new();
    let q = tape.var(Tensor::ones(&[2, 5, 16], DType::F32)); // (N, L, E)
                                                             // key padding mask (N, S): true = ignore this key (the last two keys of sample 1)
    let pad = Tensor::from_vec(
        vec![
            false, false, false, false, false, false, false, false, true, true,
        ],
        &[2, 5],
    );
    let (out, weights) = mha.forward_full(q, q, q, Some(&pad), true, None, true, false);
    let weights = weights.expect("need_weights = true");
    assert_eq!(out.shape().as_slice(), &[2, 5, 16]);
    assert_eq!(weights.shape().as_slice(), &[2, 5, 5]); // averaged over heads
    assert_eq!(weights.value().to_vec::<f32>()[28], 0.0); // sample 1, query 0, key 3: padded
                                                          // ANCHOR_END: attention

    // ANCHOR: transformer
    let spec: Box<dyn LayerConfig> = toml::from_str(
        r#"
        type = "TransformerEncoder"
        num_layers = 2
        encoder_layer = { d_model = 16, nhead = 4, dim_feedforward = 32, batch_first = true, norm_first = true }
        "#,
    )
    .expect("a valid encoder config");
    let enc = spec
        .build(&mut BuildContext::new(2))
        .expect("valid options");
    assert_eq!(
        enc.named_parameters()[0].0,
        "layers.0.self_attn.in_proj_weight"
    );
    let enc: &TransformerEncoder = enc
        .as_any()
        .and_then(|m| m.downcast_ref())
        .expect("encoder");
    let tape = Tape::new();
    let src = tape.constant(Tensor::ones(&[2, 5, 16], DType::F32));
    let y = enc.forward_full(src, None, None, true); // causal self-attention
    assert_eq!(y.shape().as_slice(), &[2, 5, 16]);
    // ANCHOR_END: transformer
    println!("sequence models: ok");
}
