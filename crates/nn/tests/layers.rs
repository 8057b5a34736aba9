//! The layers without PyTorch fixtures: inferred output shapes equal the shapes forward
//! produces, configs are validated naming the field, and each layer computes what PyTorch
//! computes on small hand-checked examples.

use tuna_autograd::Tape;
use tuna_nn::{
    build_checked, BuildContext, Embedding, LayerConfig, Module, NnError, Residual, Sequential,
};
use tuna_tensor::{DType, Generator, Tensor};

fn spec(json: &str) -> Box<dyn LayerConfig> {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn random(shape: &[usize], seed: u64) -> Tensor {
    Tensor::uniform(shape, -1.0, 1.0, DType::F32, &mut Generator::new(seed))
}

#[test]
fn inferred_shapes_match_forward_for_every_new_layer() {
    let cases: &[(&str, &[usize])] = &[
        (
            r#"{"type": "Conv1d", "in_channels": 3, "out_channels": 5, "kernel_size": 3, "stride": 2, "padding": 1}"#,
            &[2, 3, 11],
        ),
        (
            r#"{"type": "Conv1d", "in_channels": 2, "out_channels": 4, "kernel_size": 4, "padding": "same", "padding_mode": "circular"}"#,
            &[2, 2, 9],
        ),
        (
            r#"{"type": "Conv1d", "in_channels": 2, "out_channels": 2, "kernel_size": [3], "groups": 2, "padding": 2, "padding_mode": "reflect"}"#,
            &[2, 7],
        ),
        (
            r#"{"type": "Conv2d", "in_channels": 3, "out_channels": 6, "kernel_size": [3, 2], "stride": [2, 1], "padding": [1, 1], "dilation": [1, 2], "groups": 3, "padding_mode": "replicate"}"#,
            &[2, 3, 7, 6],
        ),
        (
            r#"{"type": "Conv2d", "in_channels": 2, "out_channels": 3, "kernel_size": 4, "padding": "same", "padding_mode": "reflect"}"#,
            &[2, 7, 6],
        ),
        (
            r#"{"type": "Conv2d", "in_channels": 2, "out_channels": 3, "kernel_size": 3, "padding": "valid", "bias": false}"#,
            &[1, 2, 5, 5],
        ),
        (
            r#"{"type": "ConvTranspose2d", "in_channels": 4, "out_channels": 2, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1}"#,
            &[2, 4, 5, 6],
        ),
        (
            r#"{"type": "ConvTranspose2d", "in_channels": 4, "out_channels": 6, "kernel_size": [2, 3], "groups": 2, "dilation": 2}"#,
            &[4, 3, 3],
        ),
        (
            r#"{"type": "MaxPool2d", "kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": true}"#,
            &[2, 3, 8, 7],
        ),
        (
            r#"{"type": "MaxPool2d", "kernel_size": 2, "dilation": 2}"#,
            &[3, 9, 9],
        ),
        (
            r#"{"type": "AvgPool2d", "kernel_size": [3, 2], "stride": [1, 2], "padding": [1, 0], "count_include_pad": false, "ceil_mode": true}"#,
            &[1, 2, 5, 7],
        ),
        (
            r#"{"type": "AdaptiveAvgPool2d", "output_size": [3, null]}"#,
            &[2, 3, 7, 5],
        ),
        (
            r#"{"type": "AdaptiveAvgPool2d", "output_size": 1}"#,
            &[2, 3, 7, 5],
        ),
        (r#"{"type": "BatchNorm1d", "num_features": 3}"#, &[4, 3]),
        (
            r#"{"type": "BatchNorm1d", "num_features": 3, "affine": false, "track_running_stats": false}"#,
            &[4, 3, 5],
        ),
        (
            r#"{"type": "BatchNorm2d", "num_features": 2, "momentum": null}"#,
            &[3, 2, 4, 4],
        ),
        (
            r#"{"type": "LayerNorm", "normalized_shape": 5, "elementwise_affine": false}"#,
            &[2, 3, 5],
        ),
        (
            r#"{"type": "GroupNorm", "num_groups": 2, "num_channels": 4}"#,
            &[2, 4, 3, 3],
        ),
        (
            r#"{"type": "Bilinear", "in1_features": 4, "in2_features": 4, "out_features": 3}"#,
            &[2, 5, 4],
        ),
        (
            r#"{"type": "Unflatten", "dim": 1, "unflattened_size": [2, -1, 3]}"#,
            &[2, 24],
        ),
        (
            r#"{"type": "Unflatten", "dim": -1, "unflattened_size": [2, 2]}"#,
            &[3, 4],
        ),
        (r#"{"type": "Dropout2d", "p": 0.3}"#, &[2, 3, 4, 4]),
        (
            r#"{"type": "Residual", "layers": [{"type": "Linear", "in_features": 6, "out_features": 6}, {"type": "Tanh"}]}"#,
            &[3, 6],
        ),
        (
            r#"{"type": "Residual", "layers": [{"type": "Conv2d", "in_channels": 2, "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}, {"type": "BatchNorm2d", "num_features": 4}], "shortcut": [{"type": "Conv2d", "in_channels": 2, "out_channels": 4, "kernel_size": 1, "stride": 2}]}"#,
            &[2, 2, 7, 7],
        ),
    ];
    for (json, input) in cases {
        let s = spec(json);
        let want = s
            .output_shape("model", input)
            .unwrap_or_else(|e| panic!("{json}: {e}"));
        let model = build_checked(s.as_ref(), input, 0).unwrap();
        let tape = Tape::new();
        let x = tape.var(random(input, 1));
        let y = model.forward(x);
        assert_eq!(y.shape().as_slice(), want.as_slice(), "{json}");
        y.sum().backward();
        assert_eq!(x.grad().unwrap().shape(), *input, "{json}");
        // serde round trip keeps the spec
        let back: Box<dyn LayerConfig> =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(format!("{back:?}"), format!("{s:?}"), "{json}");
    }
}

#[test]
fn embedding_shape_and_max_norm() {
    let s = spec(
        r#"{"type": "Embedding", "num_embeddings": 5, "embedding_dim": 3, "padding_idx": -1, "max_norm": 1.0}"#,
    );
    assert_eq!(s.output_shape("0", &[2, 4]).unwrap(), [2, 4, 3]);
    let m = s.build(&mut BuildContext::new(0)).unwrap();
    let tape = Tape::new();
    let idx = Tensor::from_vec(vec![0i64, 1, 1, 4], &[2, 2]);
    let y = m.forward(tape.constant(idx));
    assert_eq!(y.shape().as_slice(), &[2, 2, 3]);
    let w = m.named_parameters()[0].1.value().to_vec::<f32>();
    for r in 0..2 {
        let n: f32 = w[r * 3..r * 3 + 3]
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
            .sqrt();
        assert!(n <= 1.0 + 1e-5, "row {r} norm {n}");
    }
    assert_eq!(
        &w[12..15],
        &[0.0, 0.0, 0.0],
        "padding row (index -1 → 4) is zero"
    );
    y.sum().backward();
    let g = m.named_parameters()[0].1.grad().unwrap().to_vec::<f32>();
    assert_eq!(&g[3..6], &[2.0, 2.0, 2.0]);
    assert_eq!(&g[12..15], &[0.0, 0.0, 0.0]);
}

#[test]
fn bilinear_matches_the_definition() {
    let m = tuna_nn::Bilinear::new(2, 3, 2, true, DType::F64, &mut Generator::new(0));
    let (x1, x2) = (
        Tensor::from_vec(vec![1.0f64, -2.0], &[1, 2]),
        Tensor::from_vec(vec![0.5f64, 1.0, -1.0], &[1, 3]),
    );
    let tape = Tape::new();
    let y = m
        .forward2(tape.constant(x1.clone()), tape.constant(x2.clone()))
        .value()
        .to_vec::<f64>();
    let (w, b) = (
        m.weight.value().to_vec::<f64>(),
        m.bias.as_ref().unwrap().value().to_vec::<f64>(),
    );
    let (a, c) = (x1.to_vec::<f64>(), x2.to_vec::<f64>());
    for o in 0..2 {
        let mut want = b[o];
        for i in 0..2 {
            for j in 0..3 {
                want += a[i] * w[o * 6 + i * 3 + j] * c[j];
            }
        }
        assert!((y[o] - want).abs() < 1e-12, "{o}: {} vs {want}", y[o]);
    }
    let bound = 1.0 / 2f64.sqrt();
    assert!(w.iter().all(|v| v.abs() <= bound));
}

#[test]
fn residual_adds_its_input_and_names_params_like_sequential() {
    let s = spec(
        r#"{"type": "Sequential", "layers": [
        {"type": "Linear", "in_features": 4, "out_features": 4},
        {"type": "Residual", "layers": [{"type": "Linear", "in_features": 4, "out_features": 4}, {"type": "ReLU"}]}]}"#,
    );
    let m = build_checked(s.as_ref(), &[2, 4], 0).unwrap();
    let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "0.bias", "1.0.weight", "1.0.bias"]);
    let inner = Sequential::new(vec![Box::new(tuna_nn::Relu { inplace: false })]);
    let r = Residual::new(vec![Box::new(inner)]);
    let tape = Tape::new();
    let y = r.forward(tape.constant(Tensor::from_vec(vec![-1.0f32, 2.0], &[2])));
    assert_eq!(y.value().to_vec::<f32>(), [-1.0, 4.0]);
    let bad = spec(
        r#"{"type": "Residual", "layers": [{"type": "Linear", "in_features": 4, "out_features": 3}]}"#,
    );
    let e = bad.output_shape("2", &[5, 4]).unwrap_err().to_string();
    assert!(e.contains("[5, 4]") && e.contains("[5, 3]"), "{e}");
}

#[test]
fn batch_norm_cumulative_average_and_eval_mode() {
    let s =
        spec(r#"{"type": "BatchNorm1d", "num_features": 2, "momentum": null, "affine": false}"#);
    let mut m = s.build(&mut BuildContext::new(0)).unwrap();
    let batches = [[1.0f32, 10.0, 3.0, 14.0], [5.0, 0.0, 7.0, 2.0]];
    for b in &batches {
        let tape = Tape::new();
        m.forward(tape.constant(Tensor::from_vec(b.to_vec(), &[2, 2])));
    }
    let bufs = m.named_buffers();
    // cumulative average of the batch means: (2 + 6)/2, (12 + 1)/2
    assert_eq!(bufs[0].1.value().to_vec::<f32>(), [4.0, 6.5]);
    assert_eq!(bufs[2].1.value().to_vec::<i64>(), [2]);
    m.set_training(false);
    let tape = Tape::new();
    let y = m.forward(tape.constant(Tensor::from_vec(vec![4.0f32, 6.5], &[1, 2])));
    assert_eq!(y.value().to_vec::<f32>(), [0.0, 0.0]);
}

#[test]
fn shape_errors_name_the_layer_and_both_shapes() {
    let s = spec(
        r#"{"type": "Sequential", "layers": [
        {"type": "Conv2d", "in_channels": 3, "out_channels": 8, "kernel_size": 5},
        {"type": "MaxPool2d", "kernel_size": 2},
        {"type": "Conv2d", "in_channels": 4, "out_channels": 8, "kernel_size": 3}]}"#,
    );
    let e = s.output_shape("model", &[1, 3, 12, 12]).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, NnError::Shape { ref index, .. } if index == "2"),
        "{msg}"
    );
    assert!(
        msg.contains("[N, 4, H, W]") && msg.contains("[1, 8, 4, 4]"),
        "{msg}"
    );
    let e = spec(r#"{"type": "Conv2d", "in_channels": 1, "out_channels": 1, "kernel_size": 3, "padding": 3, "padding_mode": "reflect"}"#)
        .output_shape("0", &[1, 1, 3, 3])
        .unwrap_err()
        .to_string();
    assert!(e.contains("[1, 1, 3, 3]") && e.contains("Reflect"), "{e}");
    let e = spec(r#"{"type": "LayerNorm", "normalized_shape": [3, 5]}"#)
        .output_shape("1", &[2, 5, 3])
        .unwrap_err()
        .to_string();
    assert!(e.contains("[*, 3, 5]") && e.contains("[2, 5, 3]"), "{e}");
}

#[test]
fn config_errors_name_the_field() {
    let cases = [
        (
            r#"{"type": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3, "groups": 2}"#,
            "Conv2d.groups",
        ),
        (
            r#"{"type": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": "same"}"#,
            "Conv2d.padding",
        ),
        (
            r#"{"type": "Conv1d", "in_channels": 0, "out_channels": 4, "kernel_size": 3}"#,
            "Conv1d.in_channels",
        ),
        (
            r#"{"type": "ConvTranspose2d", "in_channels": 2, "out_channels": 4, "kernel_size": 3, "output_padding": 1}"#,
            "ConvTranspose2d.output_padding",
        ),
        (
            r#"{"type": "ConvTranspose2d", "in_channels": 2, "out_channels": 4, "kernel_size": 3, "padding_mode": "reflect"}"#,
            "ConvTranspose2d.padding_mode",
        ),
        (
            r#"{"type": "MaxPool2d", "kernel_size": 2, "padding": 2}"#,
            "MaxPool2d.padding",
        ),
        (
            r#"{"type": "MaxPool2d", "kernel_size": 2, "return_indices": true}"#,
            "MaxPool2d.return_indices",
        ),
        (
            r#"{"type": "AvgPool2d", "kernel_size": 2, "divisor_override": 0}"#,
            "AvgPool2d.divisor_override",
        ),
        (
            r#"{"type": "AdaptiveAvgPool2d", "output_size": [0, 2]}"#,
            "AdaptiveAvgPool2d.output_size",
        ),
        (
            r#"{"type": "BatchNorm2d", "num_features": 4, "momentum": 1.5}"#,
            "BatchNorm2d.momentum",
        ),
        (
            r#"{"type": "BatchNorm1d", "num_features": 4, "eps": 0.0}"#,
            "BatchNorm1d.eps",
        ),
        (
            r#"{"type": "LayerNorm", "normalized_shape": []}"#,
            "LayerNorm.normalized_shape",
        ),
        (
            r#"{"type": "GroupNorm", "num_groups": 3, "num_channels": 4}"#,
            "GroupNorm.num_groups",
        ),
        (
            r#"{"type": "Embedding", "num_embeddings": 4, "embedding_dim": 2, "padding_idx": 4}"#,
            "Embedding.padding_idx",
        ),
        (
            r#"{"type": "Embedding", "num_embeddings": 4, "embedding_dim": 2, "sparse": true}"#,
            "Embedding.sparse",
        ),
        (
            r#"{"type": "Bilinear", "in1_features": 2, "in2_features": 0, "out_features": 1}"#,
            "Bilinear.in2_features",
        ),
        (
            r#"{"type": "Unflatten", "dim": 1, "unflattened_size": [-1, -1]}"#,
            "Unflatten.unflattened_size",
        ),
        (r#"{"type": "Dropout2d", "p": 2.0}"#, "Dropout2d.p"),
        (
            r#"{"type": "Residual", "layers": [{"type": "Dropout2d", "p": -1.0}]}"#,
            "Dropout2d).p",
        ),
    ];
    for (json, want) in cases {
        let e = spec(json).validate().unwrap_err().to_string();
        assert!(e.contains(want), "{json}: {e}");
        assert!(
            spec(json).build(&mut BuildContext::new(0)).is_err(),
            "{json}"
        );
    }
    for bad in [
        r#"{"type": "Conv2d", "in_channels": 1, "out_channels": 1, "kernel_size": 3, "padding_mode": "mirror"}"#,
        r#"{"type": "Conv2d", "in_channels": 1, "out_channels": 1, "kernel_size": 3, "bogus": 1}"#,
        r#"{"type": "BatchNorm2d", "num_features": 1, "track_running_stat": true}"#,
    ] {
        assert!(
            serde_json::from_str::<Box<dyn LayerConfig>>(bad).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn pytorch_default_inits() {
    let mut ctx = BuildContext::new(0);
    let conv = spec(r#"{"type": "Conv2d", "in_channels": 4, "out_channels": 64, "kernel_size": 3, "groups": 2}"#)
        .build(&mut ctx)
        .unwrap();
    // fan_in = 4/2·3·3 = 18
    let bound = 1.0 / 18f32.sqrt();
    for (_, p) in conv.named_parameters() {
        let v = p.value().to_vec::<f32>();
        let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
        assert!(max <= bound && max > 0.8 * bound, "{max} vs {bound}");
    }
    let e = Embedding::new(1000, 20, None, DType::F32, &mut Generator::new(0));
    let v = e.weight.value().to_vec::<f32>();
    let var = v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32;
    assert!((var - 1.0).abs() < 0.05, "N(0, 1) init, var {var}");
    let bn = spec(r#"{"type": "BatchNorm2d", "num_features": 3}"#)
        .build(&mut ctx)
        .unwrap();
    let sd = bn.state_dict();
    let names: Vec<&str> = sd.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "weight",
            "bias",
            "running_mean",
            "running_var",
            "num_batches_tracked"
        ]
    );
    assert_eq!(sd[4].1.dtype(), DType::I64);
    assert_eq!(sd[4].1.shape(), &[] as &[usize]);
    assert_eq!(sd[3].1.to_vec::<f32>(), [1.0; 3]);
}

#[test]
fn a_residual_block_that_changes_the_shape_needs_a_matching_shortcut() {
    let conv = r#"{"type": "Conv2d", "in_channels": 2, "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}"#;
    let no_shortcut = spec(&format!(r#"{{"type": "Residual", "layers": [{conv}]}}"#));
    let e = no_shortcut
        .output_shape("model", &[1, 2, 8, 8])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("[1, 4, 4, 4]") && e.contains("needs shortcut = [a 1x1 Conv2d"),
        "{e}"
    );
    let wrong = spec(&format!(
        r#"{{"type": "Residual", "layers": [{conv}], "shortcut": [{{"type": "Conv2d", "in_channels": 2, "out_channels": 4, "kernel_size": 1}}]}}"#
    ));
    let e = wrong
        .output_shape("model", &[1, 2, 8, 8])
        .unwrap_err()
        .to_string();
    assert!(e.contains("the skip path gives [1, 4, 8, 8]"), "{e}");
    let model = build_checked(
        spec(&format!(
            r#"{{"type": "Residual", "layers": [{conv}], "shortcut": [{{"type": "Conv2d", "in_channels": 2, "out_channels": 4, "kernel_size": 1, "stride": 2}}]}}"#
        ))
        .as_ref(),
        &[1, 2, 8, 8],
        0,
    )
    .unwrap();
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        ["0.weight", "0.bias", "shortcut.0.weight", "shortcut.0.bias"]
    );
}
