//! Every `layers.json` case for the layers of this crate, against PyTorch: built from the
//! case's PyTorch config, loaded with its state dict, then each step's outputs, input
//! gradients, parameter gradients and buffers compared within the case's tolerance.
//!
//! PyTorch reference (`fixtures/torch/README.md` §5), e.g. for BatchNorm:
//! ```python
//! m = nn.BatchNorm1d(3, momentum=None); m.load_state_dict(sd)
//! for step in steps: m.train(step.training); y = m(x); (y * upstream).sum().backward()
//! ```

use tuna_autograd::Tape;
use tuna_fixtures::{check_close, load_raw, FixtureTensor, Tolerance};
use tuna_nn::{load_state_dict, BuildContext, LayerConfig};
use tuna_tensor::{DType, Tensor};

/// Layer types implemented on another branch (recurrent and attention layers).
const OTHER_BRANCH: [&str; 5] = [
    "LSTM",
    "GRU",
    "RNN",
    "MultiheadAttention",
    "TransformerEncoderLayer",
];

fn tensor(v: &serde_json::Value) -> FixtureTensor {
    serde_json::from_value(v.clone()).expect("fixture tensor")
}

fn run_case(case: &serde_json::Value) -> Result<(), String> {
    let spec: Box<dyn LayerConfig> =
        serde_json::from_value(case["config"].clone()).map_err(|e| format!("config: {e}"))?;
    let mut module = spec
        .build(&mut BuildContext::new(0))
        .map_err(|e| e.to_string())?;
    let state: Vec<(String, Tensor)> = case["state_dict"]
        .as_object()
        .expect("state_dict")
        .iter()
        .map(|(k, v)| (k.clone(), tensor(v).tensor()))
        .collect();
    load_state_dict(module.as_ref(), &state, true).map_err(|e| e.to_string())?;
    let tol: Tolerance = serde_json::from_value(case["tolerance"].clone()).expect("tolerance");
    for (i, step) in case["steps"].as_array().expect("steps").iter().enumerate() {
        let at = |what: &str| format!("step {i} {what}");
        module.set_training(step["training"].as_bool().expect("training"));
        for (_, p) in module.named_parameters() {
            p.zero_grad();
        }
        let tape = Tape::new();
        let input = tensor(&step["inputs"]["input"]).tensor();
        let x = if input.dtype() == DType::I64 {
            tape.constant(input)
        } else {
            tape.var(input)
        };
        let y = module.forward(x);
        check_close(
            &at("output"),
            &y.value(),
            &tensor(&step["outputs"]["output"]),
            tol,
        )?;
        y.backward_with(tensor(&step["upstream"]["output"]).tensor());
        if let Some(grads) = step["grads"].as_object() {
            for (k, want) in grads {
                assert_eq!(k, "input", "unexpected grad key");
                let g = x.grad().ok_or_else(|| at("input has no gradient"))?;
                check_close(&at("grad input"), &g, &tensor(want), tol)?;
            }
        }
        let params = module.named_parameters();
        let pg = step["param_grads"].as_object().expect("param_grads");
        if pg.len() != params.len() {
            return Err(at(&format!(
                "{} parameter gradients expected, the module has {} parameters",
                pg.len(),
                params.len()
            )));
        }
        for (name, want) in pg {
            let (_, p) = params
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| at(&format!("no parameter {name}")))?;
            let g = p
                .grad()
                .ok_or_else(|| at(&format!("{name} has no gradient")))?;
            check_close(&at(&format!("grad {name}")), &g, &tensor(want), tol)?;
        }
        if let Some(bufs) = step.get("buffers_after").and_then(|b| b.as_object()) {
            let have = module.named_buffers();
            for (name, want) in bufs {
                let (_, b) = have
                    .iter()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| at(&format!("no buffer {name}")))?;
                check_close(
                    &at(&format!("buffer {name}")),
                    &b.value(),
                    &tensor(want),
                    tol,
                )?;
            }
        }
    }
    Ok(())
}

#[test]
fn every_layers_json_case_of_this_crate_matches_pytorch() {
    let cases = load_raw("layers.json");
    let (mut ran, mut skipped, mut failures) = (Vec::new(), 0usize, Vec::new());
    for case in &cases {
        let name = case["name"].as_str().expect("name").to_string();
        let ty = case["config"]["type"].as_str().expect("type");
        if OTHER_BRANCH.contains(&ty) {
            skipped += 1;
            continue;
        }
        match run_case(case) {
            Ok(()) => ran.push(name),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "failing cases:\n{}",
        failures.join("\n")
    );
    assert_eq!(ran.len() + skipped, cases.len());
    // Linear 3, Conv2d 3, Embedding 1, BatchNorm1d 2, BatchNorm2d 2, LayerNorm 2
    assert_eq!(ran.len(), 13, "ran {ran:?}");
    for ty in [
        "Linear/",
        "Conv2d/",
        "Embedding/",
        "BatchNorm1d/",
        "BatchNorm2d/",
        "LayerNorm/",
    ] {
        assert!(ran.iter().any(|n| n.starts_with(ty)), "no {ty} case ran");
    }
}

/// torchvision's `BasicBlock` (identity shortcut, and a stride-2 projection shortcut) as
/// `Sequential[Residual(layers, shortcut), ReLU]`: outputs, input and parameter gradients and
/// BatchNorm buffers over two training steps and one eval step
/// (`fixtures/torch/extra/gen_resnet_block.py`).
#[test]
fn resnet_basic_blocks_match_torchvision() {
    let cases = load_raw("extra/resnet_block.json");
    assert_eq!(cases.len(), 2);
    for case in &cases {
        let name = case["name"].as_str().expect("name");
        if let Err(e) = run_case(case) {
            panic!("{name}: {e}");
        }
    }
}
