//! Gradient checks in f64 against central finite differences for the recurrent layers
//! (their backward through time is hand-written) and multi-head attention: gradients with
//! respect to the inputs and states (`tuna_autograd::gradcheck`) and to every parameter.

use tuna_autograd::gradcheck::gradcheck;
use tuna_autograd::{Tape, Var};
use tuna_fixtures::seeded_tensor;
use tuna_nn::{
    BuildContext, Gru, GruConfig, LayerConfig, Lstm, LstmConfig, Module, MultiheadAttention,
    MultiheadAttentionConfig, Rnn, RnnConfig, RnnNonlinearity, TransformerEncoderLayer,
    TransformerEncoderLayerConfig,
};
use tuna_tensor::{DType, Tensor};

fn ctx() -> BuildContext {
    let mut c = BuildContext::new(7);
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
        let analytic = p
            .grad()
            .expect("every parameter gets a gradient")
            .to_vec_f64();
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

fn lstm_spec() -> LstmConfig {
    let mut s = LstmConfig::new(3, 4);
    s.num_layers = 2;
    s.bidirectional = true;
    s.proj_size = 2;
    s.batch_first = true;
    s
}

#[test]
fn lstm_two_layers_bidirectional_projected() {
    let lstm = Lstm::new(&lstm_spec(), &mut ctx()).unwrap();
    let x = seeded_tensor(&[2, 3, 3], 1, -1.0, 1.0);
    let h0 = seeded_tensor(&[4, 2, 2], 2, -1.0, 1.0);
    let c0 = seeded_tensor(&[4, 2, 4], 3, -1.0, 1.0);
    gradcheck(
        |tape, v| {
            let (o, (h, c)) = lstm.forward_with_state(v[0], Some((v[1], v[2])));
            tape.cat(&[o.reshape(&[-1]), h.reshape(&[-1]), c.reshape(&[-1])], 0)
        },
        &[x.clone(), h0.clone(), c0.clone()],
    )
    .unwrap();
    let x = x.to_dtype(DType::F64);
    check_params(&lstm, &|tape| {
        let (o, (h, c)) = lstm.forward_with_state(
            tape.constant(x.clone()),
            Some((tape.constant(h0.clone()), tape.constant(c0.clone()))),
        );
        tape.cat(&[o.reshape(&[-1]), h.reshape(&[-1]), c.reshape(&[-1])], 0)
    });
}

#[test]
fn gru_two_layers_bidirectional() {
    let mut s = GruConfig::new(3, 4);
    s.num_layers = 2;
    s.bidirectional = true;
    let gru = Gru::new(&s, &mut ctx()).unwrap();
    let x = seeded_tensor(&[3, 2, 3], 4, -1.0, 1.0);
    let h0 = seeded_tensor(&[4, 2, 4], 5, -1.0, 1.0);
    gradcheck(
        |tape, v| {
            let (o, h) = gru.forward_with_state(v[0], Some(v[1]));
            tape.cat(&[o.reshape(&[-1]), h.reshape(&[-1])], 0)
        },
        &[x.clone(), h0.clone()],
    )
    .unwrap();
    check_params(&gru, &|tape| {
        let (o, h) = gru.forward_with_state(
            tape.constant(x.to_dtype(DType::F64)),
            Some(tape.constant(h0.clone())),
        );
        tape.cat(&[o.reshape(&[-1]), h.reshape(&[-1])], 0)
    });
}

#[test]
fn rnn_relu_and_tanh_without_bias() {
    for nl in [RnnNonlinearity::Tanh, RnnNonlinearity::Relu] {
        let mut s = RnnConfig::new(3, 4);
        s.nonlinearity = nl;
        s.bias = false;
        s.num_layers = 2;
        let rnn = Rnn::new(&s, &mut ctx()).unwrap();
        let x = seeded_tensor(&[4, 3], 6, -1.0, 1.0); // unbatched
        gradcheck(
            |tape, v| {
                let (o, h) = rnn.forward_with_state(v[0], None);
                tape.cat(&[o.reshape(&[-1]), h.reshape(&[-1])], 0)
            },
            std::slice::from_ref(&x),
        )
        .unwrap();
        check_params(&rnn, &|tape| {
            rnn.forward(tape.constant(x.to_dtype(DType::F64)))
        });
    }
}

#[test]
fn multihead_attention_masks_bias_kv_zero_attn() {
    let mut s = MultiheadAttentionConfig::new(4, 2);
    s.add_bias_kv = true;
    s.add_zero_attn = true;
    s.kdim = Some(3);
    s.vdim = Some(5);
    let mha = MultiheadAttention::new(&s, &mut ctx()).unwrap();
    let q = seeded_tensor(&[3, 2, 4], 8, -1.0, 1.0); // (L, N, E)
    let k = seeded_tensor(&[4, 2, 3], 9, -1.0, 1.0);
    let v = seeded_tensor(&[4, 2, 5], 10, -1.0, 1.0);
    let kpm = Tensor::from_vec(
        vec![false, false, true, false, false, true, false, false],
        &[2, 4],
    );
    let am = Tensor::from_vec((0..12).map(|i| i % 5 == 1).collect::<Vec<bool>>(), &[3, 4]);
    fn run<'t>(
        mha: &MultiheadAttention,
        vars: [Var<'t>; 3],
        kpm: &Tensor,
        am: &Tensor,
        avg: bool,
    ) -> (Var<'t>, Var<'t>) {
        let (o, w) = mha.forward_full(
            vars[0],
            vars[1],
            vars[2],
            Some(kpm),
            true,
            Some(am),
            avg,
            false,
        );
        (o, w.unwrap())
    }
    gradcheck(
        |tape, x| {
            let (o, w) = run(&mha, [x[0], x[1], x[2]], &kpm, &am, false);
            tape.cat(&[o.reshape(&[-1]), w.reshape(&[-1])], 0)
        },
        &[q.clone(), k.clone(), v.clone()],
    )
    .unwrap();
    // the fused need_weights = false path, with the same masks
    gradcheck(
        |_, x| {
            mha.forward_full(x[0], x[1], x[2], Some(&kpm), false, Some(&am), true, false)
                .0
        },
        &[q.clone(), k.clone(), v.clone()],
    )
    .unwrap();
    check_params(&mha, &|tape| {
        let c = |t: &Tensor| tape.constant(t.to_dtype(DType::F64));
        let (o, w) = run(&mha, [c(&q), c(&k), c(&v)], &kpm, &am, true);
        tape.cat(&[o.reshape(&[-1]), w.reshape(&[-1])], 0)
    });
}

#[test]
fn transformer_encoder_layer_causal_pre_norm() {
    let mut s = TransformerEncoderLayerConfig::new(4, 2);
    s.dim_feedforward = 6;
    s.dropout = 0.0;
    s.norm_first = true;
    s.activation = tuna_nn::TransformerActivation::Gelu;
    let layer = TransformerEncoderLayer::new(&s, &mut ctx()).unwrap();
    let x = seeded_tensor(&[3, 2, 4], 11, -1.0, 1.0);
    gradcheck(
        |_, v| layer.forward_full(v[0], None, None, true),
        std::slice::from_ref(&x),
    )
    .unwrap();
    check_params(&layer, &|tape| {
        layer.forward_full(tape.constant(x.to_dtype(DType::F64)), None, None, true)
    });
}

#[test]
fn specs_validate_name_the_field_and_build_pytorch_names() {
    let bad: Box<dyn LayerConfig> = serde_json::from_str(
        r#"{"type": "LSTM", "input_size": 3, "hidden_size": 4, "proj_size": 4}"#,
    )
    .unwrap();
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("LSTM.proj_size"), "{e}");
    let bad: Box<dyn LayerConfig> =
        serde_json::from_str(r#"{"type": "MultiheadAttention", "embed_dim": 6, "num_heads": 4}"#)
            .unwrap();
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("num_heads"));
    assert!(serde_json::from_str::<Box<dyn LayerConfig>>(
        r#"{"type": "GRU", "input_size": 3, "hidden_size": 4, "nonlinearity": "tanh"}"#
    )
    .is_err());

    let spec: Box<dyn LayerConfig> = serde_json::from_str(
        r#"{"type": "LSTM", "input_size": 3, "hidden_size": 4, "bidirectional": true, "proj_size": 2}"#,
    )
    .unwrap();
    let m = spec.build(&mut BuildContext::new(0)).unwrap();
    let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "weight_ih_l0",
            "weight_hh_l0",
            "bias_ih_l0",
            "bias_hh_l0",
            "weight_hr_l0",
            "weight_ih_l0_reverse",
            "weight_hh_l0_reverse",
            "bias_ih_l0_reverse",
            "bias_hh_l0_reverse",
            "weight_hr_l0_reverse"
        ]
    );
    // U(-1/√H, 1/√H)
    for (_, p) in m.named_parameters() {
        assert!(p.value().to_vec_f64().iter().all(|v| v.abs() <= 0.5));
    }
    assert_eq!(spec.output_shape("0", &[5, 7, 3]).unwrap(), vec![5, 7, 4]);
    assert!(spec.output_shape("0", &[5, 7, 2]).is_err());

    let enc: Box<dyn LayerConfig> = toml::from_str(
        "type = \"TransformerEncoder\"\nnum_layers = 2\nencoder_layer = { d_model = 8, nhead = 2, dim_feedforward = 16 }\n",
    )
    .unwrap();
    let m = enc.build(&mut BuildContext::new(0)).unwrap();
    let sd = m.state_dict();
    assert_eq!(sd[0].0, "layers.0.self_attn.in_proj_weight");
    assert_eq!(sd.len(), 24);
    // deep-copy semantics: every layer starts from the same weights
    assert_eq!(sd[0].1.to_vec_f64(), sd[12].1.to_vec_f64());
    let json = serde_json::to_string(&enc).unwrap();
    let back: Box<dyn LayerConfig> = serde_json::from_str(&json).unwrap();
    assert_eq!(format!("{back:?}"), format!("{enc:?}"));
}

#[test]
fn recurrent_dropout_is_seeded_and_off_in_eval() {
    let mut s = LstmConfig::new(3, 4);
    s.num_layers = 2;
    s.dropout = 0.5;
    let x = seeded_tensor(&[5, 2, 3], 12, -1.0, 1.0);
    let run = |m: &Lstm| {
        let tape = Tape::new();
        m.forward(tape.constant(x.clone())).value().to_vec_f64()
    };
    let (mut a, b) = (
        Lstm::new(&s, &mut BuildContext::new(3)).unwrap(),
        Lstm::new(&s, &mut BuildContext::new(3)).unwrap(),
    );
    assert_eq!(run(&a), run(&b));
    a.set_training(false);
    let (e1, e2) = (run(&a), run(&a));
    assert_eq!(e1, e2);
    assert_ne!(run(&b), run(&b));
}
