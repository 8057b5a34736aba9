//! Weights from and to PyTorch via safetensors: the PyTorch-written fixture files load into
//! the equivalent Tuna models and reproduce PyTorch's eval-mode outputs.
//!
//! ```python
//! model.eval(); safetensors.torch.save_file(model.state_dict(), "cnn.safetensors")
//! ```

use std::path::PathBuf;

use tuna_autograd::Tape;
use tuna_fixtures::{check_close, FixtureTensor, Tolerance};
use tuna_nn::{load_safetensors, save_safetensors, BuildContext, LayerConfig, Module, NnError};
use tuna_tensor::{DType, Tensor};

fn st_path(file: &str) -> PathBuf {
    tuna_fixtures::path("safetensors").join(file)
}

fn cases() -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(st_path("safetensors_cases.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn spec(name: &str) -> Box<dyn LayerConfig> {
    let json = match name {
        "mlp" => {
            r#"{"type": "Sequential", "layers": [
                {"type": "Linear", "in_features": 784, "out_features": 32},
                {"type": "ReLU"},
                {"type": "Dropout", "p": 0.1},
                {"type": "Linear", "in_features": 32, "out_features": 10}]}"#
        }
        "cnn" => {
            r#"{"type": "Sequential", "layers": [
                {"type": "Conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 5},
                {"type": "ReLU"},
                {"type": "MaxPool2d", "kernel_size": 2},
                {"type": "Conv2d", "in_channels": 4, "out_channels": 8, "kernel_size": 5},
                {"type": "BatchNorm2d", "num_features": 8},
                {"type": "ReLU"},
                {"type": "MaxPool2d", "kernel_size": 2},
                {"type": "Flatten"},
                {"type": "Linear", "in_features": 128, "out_features": 10}]}"#
        }
        other => panic!("unknown case {other}"),
    };
    serde_json::from_str(json).unwrap()
}

fn build(name: &str, seed: u64) -> Box<dyn Module> {
    spec(name).build(&mut BuildContext::new(seed)).unwrap()
}

fn scratch(file: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tuna-nn-st-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(file)
}

#[test]
fn pytorch_files_load_and_reproduce_eval_outputs() {
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        let mut model = build(name, 1);
        let report = load_safetensors(
            model.as_ref(),
            st_path(case["file"].as_str().unwrap()),
            true,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(report.missing.is_empty() && report.unexpected.is_empty());
        // every key with PyTorch's shape
        let keys = case["keys"].as_object().unwrap();
        let state = model.state_dict();
        assert_eq!(state.len(), keys.len(), "{name}");
        for (k, t) in &state {
            let want: Vec<usize> = serde_json::from_value(keys[k].clone()).unwrap();
            assert_eq!(t.shape(), want.as_slice(), "{name}: {k}");
            let dt = case["dtypes"][k].as_str().unwrap();
            assert_eq!(t.dtype().torch_name(), dt, "{name}: {k}");
        }
        model.set_training(case["mode"] != "eval");
        // these tensors carry no dtype tag: the input is f32 data, the output a reference
        let with_dtype = |v: &serde_json::Value, dtype: &str| -> FixtureTensor {
            let mut v = v.clone();
            v["dtype"] = dtype.into();
            serde_json::from_value(v).unwrap()
        };
        let input = with_dtype(&case["input"], "f32");
        let output = with_dtype(&case["output"], "f64");
        let tol: Tolerance = serde_json::from_value(case["tolerance"].clone()).unwrap();
        let tape = Tape::new();
        let y = model.forward(tape.constant(input.tensor()));
        check_close(name, &y.value(), &output, tol).unwrap();
    }
}

#[test]
fn saving_a_pytorch_file_reproduces_its_bytes() {
    // same tensors, same header layout (dtype alignment then name, space padding to 8 bytes)
    for name in ["mlp", "cnn"] {
        let original = std::fs::read(st_path(&format!("{name}.safetensors"))).unwrap();
        let model = build(name, 2);
        load_safetensors(
            model.as_ref(),
            st_path(&format!("{name}.safetensors")),
            true,
        )
        .unwrap();
        let out = scratch(&format!("{name}-copy.safetensors"));
        save_safetensors(model.as_ref(), &out).unwrap();
        let written = std::fs::read(&out).unwrap();
        assert!(
            written == original,
            "{name}: bytes differ from PyTorch's file"
        );
    }
}

#[test]
fn save_load_round_trip_is_bit_identical() {
    let a = build("cnn", 3);
    // run a training step's forward so the BatchNorm buffers are non-trivial
    {
        let tape = Tape::new();
        let x = Tensor::uniform(
            &[4, 1, 28, 28],
            -1.0,
            1.0,
            DType::F32,
            &mut tuna_tensor::Generator::new(9),
        );
        a.forward(tape.constant(x));
    }
    let path = scratch("round.safetensors");
    // ANCHOR: save
    save_safetensors(a.as_ref(), &path).unwrap();
    // ANCHOR_END: save
    // ANCHOR: round_trip
    let b = build("cnn", 4);
    load_safetensors(b.as_ref(), &path, true).unwrap();
    // ANCHOR_END: round_trip
    let (sa, sb) = (a.state_dict(), b.state_dict());
    assert_eq!(sa.len(), sb.len());
    for ((ka, ta), (kb, tb)) in sa.iter().zip(&sb) {
        assert_eq!(ka, kb);
        assert_eq!(ta.dtype(), tb.dtype(), "{ka}");
        assert_eq!(ta.shape(), tb.shape(), "{ka}");
        match ta.dtype() {
            DType::I64 => assert_eq!(ta.to_vec::<i64>(), tb.to_vec::<i64>()),
            _ => {
                let bits = |t: &Tensor| {
                    t.to_vec::<f32>()
                        .iter()
                        .map(|v| v.to_bits())
                        .collect::<Vec<_>>()
                };
                assert_eq!(bits(ta), bits(tb), "{ka}");
            }
        }
    }
    assert_eq!(
        sa.iter()
            .find(|(k, _)| k == "4.num_batches_tracked")
            .unwrap()
            .1
            .to_vec::<i64>(),
        [1]
    );
    let again = scratch("round2.safetensors");
    save_safetensors(b.as_ref(), &again).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

#[test]
fn corrupt_and_truncated_files_are_errors_naming_the_file() {
    let model = build("mlp", 0);
    let bytes = std::fs::read(st_path("mlp.safetensors")).unwrap();
    let truncated = scratch("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    let garbage = scratch("garbage.safetensors");
    let mut g = bytes.clone();
    g[8..20].copy_from_slice(b"not json at ");
    std::fs::write(&garbage, &g).unwrap();
    let tiny = scratch("tiny.safetensors");
    std::fs::write(&tiny, [1u8, 2, 3]).unwrap();
    let huge_header = scratch("huge.safetensors");
    let mut h = bytes.clone();
    h[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&huge_header, &h).unwrap();
    for p in [&truncated, &garbage, &tiny, &huge_header] {
        let e = load_safetensors(model.as_ref(), p, true).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, NnError::Io { .. }), "{msg}");
        assert!(msg.contains(&p.display().to_string()), "{msg}");
    }
    let missing =
        load_safetensors(model.as_ref(), scratch("absent.safetensors"), true).unwrap_err();
    assert!(missing.to_string().contains("absent.safetensors"));
    // nothing was written into the model by the failed loads
    let fresh = build("mlp", 0);
    assert_eq!(
        model.state_dict()[0].1.to_vec::<f32>(),
        fresh.state_dict()[0].1.to_vec::<f32>()
    );
}

#[test]
fn wrong_shapes_and_dtypes_are_all_reported_at_once() {
    let other: Box<dyn LayerConfig> = serde_json::from_str(
        r#"{"type": "Sequential", "layers": [
            {"type": "Linear", "in_features": 784, "out_features": 16},
            {"type": "ReLU"},
            {"type": "Dropout", "p": 0.1},
            {"type": "Linear", "in_features": 16, "out_features": 10}]}"#,
    )
    .unwrap();
    let small = other.build(&mut BuildContext::new(0)).unwrap();
    let path = scratch("wrong-shape.safetensors");
    save_safetensors(small.as_ref(), &path).unwrap();
    let model = build("mlp", 0);
    let msg = load_safetensors(model.as_ref(), &path, true)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("wrong-shape.safetensors"), "{msg}");
    for k in ["0.weight", "0.bias", "3.weight"] {
        assert!(msg.contains(&format!("size mismatch for {k}")), "{msg}");
    }
    assert!(
        msg.contains("[32, 784] f32") && msg.contains("[16, 784] f32"),
        "{msg}"
    );

    let mut ctx = BuildContext::new(0);
    ctx.dtype = DType::F64;
    let f64_model = spec("mlp").build(&mut ctx).unwrap();
    let msg = load_safetensors(f64_model.as_ref(), st_path("mlp.safetensors"), true)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("[32, 784] f64") && msg.contains("[32, 784] f32"),
        "{msg}"
    );

    // strict: keys the model lacks are reported
    let extra = scratch("extra.safetensors");
    let cnn = build("cnn", 0);
    save_safetensors(cnn.as_ref(), &extra).unwrap();
    let e = load_safetensors(model.as_ref(), &extra, true)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unexpected key(s)") && e.contains("4.running_mean"),
        "{e}"
    );
}
