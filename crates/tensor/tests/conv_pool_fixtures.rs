//! Checks convolution and pooling kernels (forward outputs, indices and every gradient) against
//! the PyTorch fixtures in `fixtures/torch/ops.json`, computing in f32 from the f32 inputs.

use std::collections::BTreeMap;

use serde_json::Value;
use tuna_tensor::{
    adaptive_avg_pool2d_backward, avg_pool2d_backward, conv1d_backward_bias, conv1d_backward_input,
    conv1d_backward_weight, conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight,
    conv_transpose2d_backward_bias, conv_transpose2d_backward_input,
    conv_transpose2d_backward_weight, max_pool2d_backward, AvgPool2dOptions, Conv1dOptions,
    Conv2dOptions, ConvTranspose2dOptions, MaxPool2dOptions, Tensor,
};

const FAMILIES: [&str; 6] = [
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
];

/// Decodes a fixture tensor with the shared test-support crate.
fn tensor(v: &Value) -> Tensor {
    serde_json::from_value::<tuna_fixtures::FixtureTensor>(v.clone())
        .expect("fixture tensor")
        .tensor()
}

fn check(case: &str, what: &str, got: &Tensor, want: &Tensor, rtol: f64, atol: f64) {
    assert_eq!(got.shape(), want.shape(), "{case}: {what} shape");
    let (g, w) = (got.to_vec_f64(), want.to_vec_f64());
    let mut worst = 0.0f64;
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let err = (a - b).abs();
        assert!(
            err <= atol + rtol * b.abs(),
            "{case}: {what}[{i}] = {a}, reference {b} (|diff| {err:e} > atol {atol:e} + rtol {rtol:e}·|ref|)"
        );
        worst = worst.max(err);
    }
    eprintln!("{case}: {what} ok (max |diff| {worst:.2e})");
}

#[test]
fn conv_and_pool_match_pytorch_fixtures() {
    let cases = tuna_fixtures::load_raw("ops.json");
    let mut checked: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &cases {
        let name = case["name"].as_str().expect("name");
        let family = name.split('/').next().unwrap();
        let Some(&family) = FAMILIES.iter().find(|f| **f == family) else {
            continue;
        };
        let rtol = case["tolerance"]["rtol"].as_f64().unwrap();
        let atol = case["tolerance"]["atol"].as_f64().unwrap();
        let config = &case["config"];
        let inputs: BTreeMap<String, Tensor> = case["inputs"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), tensor(v)))
            .collect();
        let outputs: BTreeMap<String, Tensor> = case["outputs"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), tensor(v)))
            .collect();
        let up = tensor(&case["upstream"]["output"]);
        let x = &inputs["input"];
        let weight = inputs.get("weight");
        let bias = inputs.get("bias");

        // forward output, optional indices, and gradient by input name
        let (out, indices, grads): (Tensor, Option<Tensor>, BTreeMap<&str, Tensor>) = match family {
            "conv1d" => {
                let o: Conv1dOptions = serde_json::from_value(config.clone()).unwrap();
                let w = weight.unwrap();
                let mut g = BTreeMap::new();
                g.insert("input", conv1d_backward_input(&up, w, x.shape(), &o));
                g.insert("weight", conv1d_backward_weight(&up, x, w.shape(), &o));
                g.insert("bias", conv1d_backward_bias(&up));
                (x.conv1d(w, bias, &o), None, g)
            }
            "conv2d" => {
                let o: Conv2dOptions = serde_json::from_value(config.clone()).unwrap();
                let w = weight.unwrap();
                let mut g = BTreeMap::new();
                g.insert("input", conv2d_backward_input(&up, w, x.shape(), &o));
                g.insert("weight", conv2d_backward_weight(&up, x, w.shape(), &o));
                g.insert("bias", conv2d_backward_bias(&up));
                (x.conv2d(w, bias, &o), None, g)
            }
            "conv_transpose2d" => {
                let o: ConvTranspose2dOptions = serde_json::from_value(config.clone()).unwrap();
                let w = weight.unwrap();
                let mut g = BTreeMap::new();
                g.insert(
                    "input",
                    conv_transpose2d_backward_input(&up, w, x.shape(), &o),
                );
                g.insert(
                    "weight",
                    conv_transpose2d_backward_weight(&up, x, w.shape(), &o),
                );
                g.insert("bias", conv_transpose2d_backward_bias(&up));
                (x.conv_transpose2d(w, bias, &o), None, g)
            }
            "max_pool2d" => {
                let o: MaxPool2dOptions = serde_json::from_value(config.clone()).unwrap();
                let (v, i) = x.max_pool2d_with_indices(&o);
                assert!(
                    v.equal(&x.max_pool2d(&o)),
                    "{name}: max_pool2d vs with_indices"
                );
                let mut g = BTreeMap::new();
                g.insert("input", max_pool2d_backward(&up, &i, x.shape()));
                (v, Some(i), g)
            }
            "avg_pool2d" => {
                let o: AvgPool2dOptions = serde_json::from_value(config.clone()).unwrap();
                let mut g = BTreeMap::new();
                g.insert("input", avg_pool2d_backward(&up, x.shape(), &o));
                (x.avg_pool2d(&o), None, g)
            }
            "adaptive_avg_pool2d" => {
                let os = config["output_size"].as_array().unwrap();
                let os = [
                    os[0].as_u64().unwrap() as usize,
                    os[1].as_u64().unwrap() as usize,
                ];
                let mut g = BTreeMap::new();
                g.insert("input", adaptive_avg_pool2d_backward(&up, x.shape()));
                (x.adaptive_avg_pool2d(os), None, g)
            }
            _ => unreachable!(),
        };

        assert_eq!(
            out.dtype(),
            tuna_tensor::DType::F32,
            "{name}: computed in f32"
        );
        check(name, "output", &out, &outputs["output"], rtol, atol);
        match (outputs.get("indices"), indices) {
            (Some(want), Some(got)) => {
                assert_eq!(got.shape(), want.shape(), "{name}: indices shape");
                assert_eq!(got.to_vec::<i64>(), want.to_vec::<i64>(), "{name}: indices");
            }
            (None, _) => {}
            (Some(_), None) => panic!("{name}: expected indices"),
        }
        let want_grads = case["grads"].as_object().unwrap();
        assert!(!want_grads.is_empty(), "{name}: no grads");
        for (k, v) in want_grads {
            let got = grads
                .get(k.as_str())
                .unwrap_or_else(|| panic!("{name}: no kernel for the gradient of {k}"));
            check(name, &format!("grad {k}"), got, &tensor(v), rtol, atol);
        }
        *checked.entry(family).or_default() += 1;
    }
    eprintln!("checked {checked:?}");
    for f in FAMILIES {
        assert!(
            checked.get(f).copied().unwrap_or(0) > 0,
            "no {f} cases found"
        );
    }
    assert_eq!(
        checked.values().sum::<usize>(),
        20,
        "expected all 20 conv/pool cases"
    );
}
