//! Every case of `tests/fixtures/sequence.json` (written by `gen_sequence_fixtures.py` beside
//! it) against PyTorch: padded batches with per-sample lengths through the recurrent layers
//! (as packed sequences), `SequencePool`, `PositionalEmbedding`, `TransformerEncoder` with a
//! padding mask, and two whole text classifiers. Each case is built from its config, loaded
//! from its state dict, run with the lengths, and its outputs, input gradients and parameter
//! gradients (by state-dict name) compared at the case's tolerance.
//!
//! ```python
//! packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
//! out, (h, c) = lstm(packed, (h0, c0)); out, _ = pad_packed_sequence(out, True, total_length=L)
//! (out*u_out + h*u_h + c*u_c).sum().backward()
//! ```

use std::path::PathBuf;

use serde_json::Value;
use tuna_autograd::{Tape, Var};
use tuna_fixtures::{check_close, FixtureTensor, Tolerance};
use tuna_nn::{load_state_dict, BuildContext, ForwardContext, Gru, LayerConfig, Lstm, Module, Rnn};
use tuna_tensor::{DType, Tensor};

fn cases() -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sequence.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut root: Value = serde_json::from_str(&text).unwrap();
    match root["cases"].take() {
        Value::Array(c) => c,
        _ => panic!("{}: no cases", path.display()),
    }
}

fn fixture(v: &Value) -> FixtureTensor {
    serde_json::from_value(v.clone()).unwrap()
}

fn tensor(v: &Value) -> Tensor {
    fixture(v).tensor()
}

/// The outputs of the case's module on its inputs, by name, and the input variables.
fn run<'t>(
    tape: &'t Tape,
    module: &dyn Module,
    case: &Value,
    lengths: &[usize],
) -> (Vec<(String, Var<'t>)>, Vec<(String, Var<'t>)>) {
    let mut vars = Vec::new();
    for (k, v) in case["inputs"].as_object().unwrap() {
        let t = tensor(v);
        let var = if t.dtype() == DType::I64 {
            tape.constant(t)
        } else {
            tape.var(t)
        };
        vars.push((k.clone(), var));
    }
    let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    let x = get("input").unwrap();
    let any = module.as_any();
    let outputs: Vec<(&str, Var)> = match module.name() {
        "LSTM" => {
            let m = any.unwrap().downcast_ref::<Lstm>().unwrap();
            let state = get("h_0").map(|h| (h, get("c_0").unwrap()));
            let (o, (h, c)) = m.forward_with_state_lengths(x, state, Some(lengths));
            vec![("output", o), ("h_n", h), ("c_n", c)]
        }
        "GRU" => {
            let m = any.unwrap().downcast_ref::<Gru>().unwrap();
            let (o, h) = m.forward_with_state_lengths(x, get("h_0"), Some(lengths));
            vec![("output", o), ("h_n", h)]
        }
        "RNN" => {
            let m = any.unwrap().downcast_ref::<Rnn>().unwrap();
            let (o, h) = m.forward_with_state_lengths(x, get("h_0"), Some(lengths));
            vec![("output", o), ("h_n", h)]
        }
        _ => vec![(
            "output",
            module.forward_with(x, &ForwardContext::with_lengths(lengths)),
        )],
    };
    let outputs = outputs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    (outputs, vars)
}

fn run_case(case: &Value) -> Result<(), String> {
    let name = case["name"].as_str().unwrap();
    let tol: Tolerance = serde_json::from_value(case["tolerance"].clone()).unwrap();
    let spec: Box<dyn LayerConfig> =
        serde_json::from_value(case["config"].clone()).map_err(|e| format!("{name}: {e}"))?;
    spec.validate().map_err(|e| format!("{name}: {e}"))?;
    let module = spec
        .build(&mut BuildContext::new(0))
        .map_err(|e| format!("{name}: {e}"))?;
    let state: Vec<(String, Tensor)> = case["state_dict"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), tensor(v)))
        .collect();
    load_state_dict(module.as_ref(), &state, true).map_err(|e| format!("{name}: {e}"))?;
    let lengths: Vec<usize> = serde_json::from_value(case["lengths"].clone()).unwrap();
    let tape = Tape::new();
    let (outputs, vars) = run(&tape, module.as_ref(), case, &lengths);
    let want = case["outputs"].as_object().unwrap();
    if want.len() != outputs.len() {
        return Err(format!(
            "{name}: {} outputs, expected {}",
            outputs.len(),
            want.len()
        ));
    }
    let mut loss: Option<Var> = None;
    for (k, o) in &outputs {
        let w = want.get(k).ok_or(format!("{name}: no reference {k}"))?;
        check_close(&format!("{name} {k}"), &o.value(), &fixture(w), tol)?;
        let up = tensor(&case["upstream"][k]).to_dtype(o.dtype());
        let term = o.mul(tape.constant(up)).sum();
        loss = Some(loss.map_or(term, |l| l.add(term)));
    }
    loss.unwrap().backward();
    for (k, w) in case["grads"].as_object().unwrap() {
        let v = vars
            .iter()
            .find(|(n, _)| n == k)
            .ok_or(format!("{name}: no {k}"))?;
        let g = v.1.grad().ok_or(format!("{name}: no gradient for {k}"))?;
        check_close(&format!("{name} grad {k}"), &g, &fixture(w), tol)?;
    }
    let params = module.named_parameters();
    let want_pg = case["param_grads"].as_object().unwrap();
    if want_pg.len() != params.len() {
        return Err(format!(
            "{name}: {} params, {} references",
            params.len(),
            want_pg.len()
        ));
    }
    for (k, w) in want_pg {
        let p = &params
            .iter()
            .find(|(n, _)| n == k)
            .ok_or(format!("{name}: no {k}"))?
            .1;
        let g = p.grad().ok_or(format!("{name}: no gradient for {k}"))?;
        check_close(&format!("{name} param grad {k}"), &g, &fixture(w), tol)?;
    }
    Ok(())
}

#[test]
fn every_sequence_case_matches_pytorch() {
    let cases = cases();
    let failures: Vec<String> = cases.iter().filter_map(|c| run_case(c).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let count = |prefix: &str| {
        cases
            .iter()
            .filter(|c| c["name"].as_str().unwrap().starts_with(prefix))
            .count()
    };
    assert_eq!(cases.len(), 30);
    assert_eq!((count("LSTM/"), count("GRU/"), count("RNN/")), (6, 5, 6));
    assert_eq!(count("SequencePool/"), 8);
    assert_eq!(count("Sequential/"), 2);
}
