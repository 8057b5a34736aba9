//! Every case of `fixtures/torch/losses.json` (PyTorch 2.15 reference values and gradients):
//! the config is deserialized as `Box<dyn Loss>` (checking the tag and field names), the
//! inputs are fed (differentiated ones as variables), and the output, every input gradient
//! and every parameter gradient are compared with `|got - ref| <= atol + rtol·|ref|`, using
//! the case's upstream tensor as the backward seed.
//!
//! The reference was computed in float64 from float32-representable inputs, so each case runs
//! twice: in f64 (the reference's own precision) and in f32 (the inputs as stored).

use std::collections::BTreeMap;

use serde_json::Value;
use tuna_autograd::{Tape, Var};
use tuna_loss::Loss;
use tuna_tensor::{DType, Tensor};

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/torch/losses.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("read losses.json"))
        .expect("parse losses.json")
}

fn tensor(v: &Value, float: DType) -> Tensor {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let data = v["data"].as_array().unwrap();
    match v["dtype"].as_str().unwrap() {
        "i64" => Tensor::from_vec(
            data.iter().map(|x| x.as_i64().unwrap()).collect::<Vec<_>>(),
            &shape,
        ),
        "f32" | "f64" => {
            let d: Vec<f64> = data.iter().map(|x| x.as_f64().unwrap()).collect();
            if float == DType::F32 {
                // f32 data parses exactly to f32
                Tensor::from_vec(d.iter().map(|&x| x as f32).collect::<Vec<_>>(), &shape)
            } else {
                Tensor::from_vec(d, &shape)
            }
        }
        other => panic!("unexpected dtype {other}"),
    }
}

fn compare(what: &str, got: &Tensor, want: &Value, rtol: f64, atol: f64) -> Result<(), String> {
    let want_t = tensor(want, DType::F64);
    if got.shape() != want_t.shape() {
        return Err(format!(
            "{what}: shape {:?}, want {:?}",
            got.shape(),
            want_t.shape()
        ));
    }
    let (g, w) = (got.to_vec_f64(), want_t.to_vec_f64());
    let mut worst: Option<(usize, f64)> = None;
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let excess = (a - b).abs() - (atol + rtol * b.abs());
        let fails = excess.is_nan() || excess > 0.0;
        if fails && worst.is_none_or(|(_, e)| excess > e || excess.is_nan()) {
            worst = Some((i, excess));
        }
    }
    match worst {
        None => Ok(()),
        Some((i, _)) => Err(format!(
            "{what}[{i}]: got {}, want {} (rtol {rtol}, atol {atol})",
            g[i], w[i]
        )),
    }
}

fn run_case(case: &Value, dtype: DType) -> Result<(), String> {
    let loss: Box<dyn Loss> = serde_json::from_value(case["config"].clone())
        .map_err(|e| format!("config does not deserialize: {e}"))?;
    loss.validate().map_err(|e| e.to_string())?;
    let tol = &case["tolerance"];
    let (rtol, atol) = (tol["rtol"].as_f64().unwrap(), tol["atol"].as_f64().unwrap());
    let grads = case["grads"].as_object().cloned().unwrap_or_default();

    // parameters (LinearCrossEntropyLoss) from the state dict
    let params: BTreeMap<String, tuna_autograd::Param> = loss.parameters().into_iter().collect();
    if let Some(sd) = case.get("state_dict").and_then(Value::as_object) {
        if sd.len() != params.len() {
            return Err(format!(
                "state_dict has {:?}, the loss has {:?}",
                sd.keys().collect::<Vec<_>>(),
                params.keys().collect::<Vec<_>>()
            ));
        }
        for (name, t) in sd {
            let p = params
                .get(name)
                .ok_or_else(|| format!("no parameter named {name}"))?;
            p.set_value(tensor(t, dtype));
            p.zero_grad();
        }
    }

    let tape = Tape::new();
    let inputs = case["inputs"].as_object().unwrap();
    let mut args: Vec<(&str, Var)> = Vec::new();
    for (name, t) in inputs {
        let t = tensor(t, dtype);
        let v = if grads.contains_key(name) {
            tape.var(t)
        } else {
            tape.constant(t)
        };
        args.push((name.as_str(), v));
    }
    let out = loss.forward_named(&args).map_err(|e| e.to_string())?;
    compare(
        "output",
        &out.value(),
        &case["outputs"]["output"],
        rtol,
        atol,
    )?;
    out.backward_with(tensor(&case["upstream"]["output"], dtype));
    for (name, want) in &grads {
        let v = args.iter().find(|(n, _)| n == name).unwrap().1;
        let g = v.grad().ok_or_else(|| format!("no gradient for {name}"))?;
        compare(&format!("grad {name}"), &g, want, rtol, atol)?;
    }
    for (name, v) in inputs.keys().zip(&args) {
        if !grads.contains_key(name) && v.1.grad().is_some() {
            return Err(format!("{name} is a constant but got a gradient"));
        }
    }
    if let Some(pg) = case.get("param_grads").and_then(Value::as_object) {
        drop(tape);
        for (name, want) in pg {
            let g = params[name]
                .grad()
                .ok_or_else(|| format!("no gradient for parameter {name}"))?;
            compare(&format!("param grad {name}"), &g, want, rtol, atol)?;
        }
    }
    Ok(())
}

fn run_all(dtype: DType) {
    tuna_loss::link();
    let f = fixture();
    let cases = f["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 219, "losses.json case count changed");
    let mut failures = Vec::new();
    let mut run = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        run += 1;
        if let Err(e) = run_case(case, dtype) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert_eq!(run, cases.len());
    assert!(
        failures.is_empty(),
        "{} of {run} cases failed in {dtype}:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "{run} of {} loss fixture cases passed in {dtype}",
        cases.len()
    );
}

#[test]
fn every_loss_case_matches_pytorch_f64() {
    run_all(DType::F64);
}

#[test]
fn every_loss_case_matches_pytorch_f32() {
    run_all(DType::F32);
}
