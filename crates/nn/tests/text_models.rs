//! Text models from TOML, end to end on padded batches of token ids: sizes filled from the
//! data, shape checking and summaries, `forward_with` + backward, and the property that
//! makes padding correct: each sample's output is what the model gives on that sample alone,
//! unpadded, whatever the padded positions hold.

use tuna_autograd::Tape;
use tuna_nn::{
    build_checked, summary, DataInfo, ForwardContext, LayerConfig, Module, PositionalEmbedding,
};
use tuna_tensor::Tensor;

const LSTM_CLASSIFIER: &str = r#"
type = "Sequential"
layers = [
  { type = "Embedding", embedding_dim = 8, padding_idx = 0 },
  { type = "LSTM", input_size = 8, hidden_size = 6, batch_first = true, bidirectional = true },
  { type = "SequencePool", mode = "last", bidirectional = true },
  { type = "Linear", in_features = 12, out_features = 2 },
]
"#;

const TRANSFORMER_CLASSIFIER: &str = r#"
type = "Sequential"
layers = [
  { type = "Embedding", embedding_dim = 8, padding_idx = 0 },
  { type = "PositionalEmbedding", embedding_dim = 8, kind = "learned" },
  { type = "TransformerEncoder", num_layers = 2, encoder_layer = { d_model = 8, nhead = 2, dim_feedforward = 16, batch_first = true } },
  { type = "Residual", layers = [{ type = "MultiheadAttention", embed_dim = 8, num_heads = 2, batch_first = true }] },
  { type = "SequencePool", mode = "mean" },
  { type = "Linear", in_features = 8, out_features = 3 },
]
"#;

const CHAR_LM: &str = r#"
type = "Sequential"
layers = [
  { type = "Embedding", embedding_dim = 8 },
  { type = "PositionalEmbedding", embedding_dim = 8, kind = "sinusoidal", dropout = 0.1 },
  { type = "TransformerEncoder", num_layers = 1, causal = true, encoder_layer = { d_model = 8, nhead = 2, dim_feedforward = 16, batch_first = true } },
  { type = "Linear", in_features = 8, out_features = 20 },
]
"#;

const VOCAB: usize = 20;

fn spec(text: &str) -> Box<dyn LayerConfig> {
    toml::from_str(text).unwrap_or_else(|e| panic!("{e}"))
}

/// The spec with its sizes filled from a vocabulary of 20 ids and sequences of at most 12.
fn filled(text: &str) -> Box<dyn LayerConfig> {
    let mut s = spec(text);
    s.fill_from_data(&DataInfo::new().with_vocab_size(VOCAB).with_max_len(12))
        .unwrap();
    s
}

/// A batch of 4 padded to 6: lengths 6, 1, 4, 2; padding id 0, or `pad` to show it is ignored.
fn batch(pad: i64) -> (Tensor, Vec<usize>) {
    let lengths = vec![6, 1, 4, 2];
    let mut ids = Vec::new();
    for (i, &len) in lengths.iter().enumerate() {
        for t in 0..6 {
            ids.push(if t < len {
                1 + ((i * 7 + t * 3) % 19) as i64
            } else {
                pad
            });
        }
    }
    (Tensor::from_vec(ids, &[4, 6]), lengths)
}

/// `forward_with` on the padded batch equals the model on each sample alone, for any
/// padding id; the backward reaches every parameter.
fn check_padding_is_invisible(model: &dyn Module, classes: usize) {
    let (ids, lengths) = batch(0);
    let ctx = ForwardContext::with_lengths(lengths.clone());
    let tape = Tape::new();
    let y = model.forward_with(tape.constant(ids.clone()), &ctx);
    assert_eq!(y.shape().as_slice(), &[4, classes]);
    let other_pad = model
        .forward_with(tape.constant(batch(7).0), &ctx)
        .value()
        .to_vec_f64();
    let got = y.value().to_vec_f64();
    for (a, b) in got.iter().zip(&other_pad) {
        assert!(
            (a - b).abs() < 1e-6,
            "padded ids changed the output: {a} vs {b}"
        );
    }
    for (i, &len) in lengths.iter().enumerate() {
        let alone = ids.narrow(0, i, 1).narrow(1, 0, len);
        let one = model.forward(tape.constant(alone)).value().to_vec_f64();
        for (a, b) in got[i * classes..(i + 1) * classes].iter().zip(&one) {
            assert!((a - b).abs() < 1e-5, "sample {i}: padded {a}, alone {b}");
        }
    }
    y.sum().backward();
    for (name, p) in model.named_parameters() {
        let g = p.grad().unwrap_or_else(|| panic!("{name}: no gradient"));
        assert!(g.to_vec_f64().iter().all(|v| v.is_finite()), "{name}");
    }
}

#[test]
fn an_lstm_classifier_from_toml_on_a_padded_batch() {
    let s = spec(LSTM_CLASSIFIER);
    assert!(s.takes_token_ids());
    for e in [
        s.validate().unwrap_err(),
        build_checked(s.as_ref(), &[4, 6], 0).unwrap_err(),
        summary(s.as_ref(), &[4, 6]).unwrap_err(),
    ] {
        let e = e.to_string();
        assert!(
            e.contains("layers[0] (Embedding).num_embeddings") && e.contains("data's vocabulary"),
            "{e}"
        );
    }
    let s = filled(LSTM_CLASSIFIER);
    let resolved = serde_json::to_value(&s).unwrap();
    assert_eq!(resolved["layers"][0]["num_embeddings"], VOCAB);
    let mut model = build_checked(s.as_ref(), &[4, 6], 0).unwrap();
    model.set_training(false);
    check_padding_is_invisible(model.as_ref(), 2);
}

#[test]
fn a_transformer_classifier_from_toml_on_a_padded_batch() {
    let s = filled(TRANSFORMER_CLASSIFIER);
    let resolved = serde_json::to_value(&s).unwrap();
    assert_eq!(resolved["layers"][1]["max_len"], 12);
    assert_eq!(s.output_shape("model", &[4, 12]).unwrap(), [4, 3]);
    let e = s.output_shape("model", &[4, 13]).unwrap_err().to_string();
    assert!(
        e.contains("layer 1 (PositionalEmbedding)") && e.contains("max_len (12)"),
        "{e}"
    );
    let mut model = build_checked(s.as_ref(), &[4, 6], 0).unwrap();
    model.set_training(false);
    check_padding_is_invisible(model.as_ref(), 3);
    // in training (dropout 0.1 in the encoder) the batch still runs forward and backward
    model.set_training(true);
    let (ids, lengths) = batch(0);
    let tape = Tape::new();
    let y = model.forward_with(tape.constant(ids), &ForwardContext::with_lengths(lengths));
    y.sum().backward();
    assert!(model
        .named_parameters()
        .iter()
        .all(|(_, p)| p.grad().is_some()));
}

#[test]
fn a_causal_character_model_does_not_see_the_future() {
    let s = filled(CHAR_LM);
    assert_eq!(s.output_shape("model", &[4, 6]).unwrap(), [4, 6, VOCAB]);
    let mut model = build_checked(s.as_ref(), &[4, 6], 0).unwrap();
    model.set_training(false);
    let (ids, lengths) = batch(0);
    let ctx = ForwardContext::with_lengths(lengths);
    let tape = Tape::new();
    let y = model.forward_with(tape.constant(ids.clone()), &ctx).value();
    // change the last token of sample 0: logits before it do not move, at it they do
    let mut changed = ids.to_vec::<i64>();
    changed[5] = 19 - changed[5] % 19;
    let y2 = model
        .forward_with(tape.constant(Tensor::from_vec(changed, &[4, 6])), &ctx)
        .value();
    let (a, b) = (y.to_vec_f64(), y2.to_vec_f64());
    assert_eq!(a[..5 * VOCAB], b[..5 * VOCAB]);
    assert_ne!(a[5 * VOCAB..6 * VOCAB], b[5 * VOCAB..6 * VOCAB]);
    assert_eq!(a[6 * VOCAB..], b[6 * VOCAB..]);
    let pe = model.children()[1].1;
    let pe = pe.as_any().unwrap().downcast_ref::<PositionalEmbedding>();
    assert!(pe.unwrap().weight.is_none(), "sinusoids are not parameters");
}

#[test]
fn summaries_show_the_sequence_layers() {
    let s = summary(filled(LSTM_CLASSIFIER).as_ref(), &[4, 6]).unwrap();
    let types: Vec<&str> = s.rows.iter().map(|r| r.type_name.as_str()).collect();
    assert_eq!(types, ["Embedding", "LSTM", "SequencePool", "Linear"]);
    assert_eq!(s.rows[2].output_shape, [4, 12]);
    assert_eq!(s.rows[0].params, VOCAB * 8);
    let s = summary(filled(TRANSFORMER_CLASSIFIER).as_ref(), &[2, 12]).unwrap();
    let text = s.to_string();
    for layer in [
        "PositionalEmbedding: 1-2",
        "TransformerEncoder: 1-3",
        "SequencePool: 1-5",
    ] {
        assert!(text.contains(layer), "{layer} missing:\n{text}");
    }
    assert_eq!(s.rows[1].params, 12 * 8);
    assert_eq!(s.output_shape, [2, 3]);
}

#[test]
fn sizes_from_the_data_are_checked_against_the_config() {
    let mut s = spec(&LSTM_CLASSIFIER.replace(
        "embedding_dim = 8,",
        "num_embeddings = 10, embedding_dim = 8,",
    ));
    let e = s
        .fill_from_data(&DataInfo::new().with_vocab_size(VOCAB))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "layers[0] (Embedding).num_embeddings: 10 is smaller than the data's vocabulary (20"
        ),
        "{e}"
    );
    // a larger table than the vocabulary is kept
    let mut s = spec(&LSTM_CLASSIFIER.replace(
        "embedding_dim = 8,",
        "num_embeddings = 30, embedding_dim = 8,",
    ));
    s.fill_from_data(&DataInfo::new().with_vocab_size(VOCAB))
        .unwrap();
    assert_eq!(
        serde_json::to_value(&s).unwrap()["layers"][0]["num_embeddings"],
        30
    );
    // data without a bounded length leaves max_len missing
    let mut s = spec(TRANSFORMER_CLASSIFIER);
    s.fill_from_data(&DataInfo::new().with_vocab_size(VOCAB))
        .unwrap();
    let e = s.validate().unwrap_err().to_string();
    assert!(
        e.contains("layers[1] (PositionalEmbedding).max_len: missing"),
        "{e}"
    );
    // a model that does not start with an Embedding does not take token ids
    let s = spec(
        r#"type = "Sequential"
layers = [{ type = "Linear", in_features = 4, out_features = 2 }]"#,
    );
    assert!(!s.takes_token_ids());
}

#[test]
#[should_panic(expected = "batch_first = false; batches of padded token sequences are [N, L]")]
fn a_sequence_first_lstm_on_a_batch_first_batch_says_so() {
    let mut s = spec(&LSTM_CLASSIFIER.replace("batch_first = true, ", ""));
    s.fill_from_data(&DataInfo::new().with_vocab_size(VOCAB))
        .unwrap();
    let model = build_checked(s.as_ref(), &[4, 6], 0).unwrap();
    let (ids, lengths) = batch(0);
    let tape = Tape::new();
    model.forward_with(tape.constant(ids), &ForwardContext::with_lengths(lengths));
}
