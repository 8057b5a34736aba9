//! Every case of `fixtures/torch/ops.json` (PyTorch 2.15 reference values): forward outputs and
//! every input gradient, computed in f32 from the f32 inputs, within each case's tolerance.

mod common;

use std::collections::BTreeMap;

use common::*;
use tuna_autograd::functional::{self as F, AttnMask};
use tuna_autograd::{Tape, Var};
use tuna_tensor::{DType, GeluApprox, Tensor};

/// Runs one case's op on the tape. Returns the named outputs (differentiable ones as Vars,
/// non-differentiable ones, integer indices or updated running statistics, as tensors), or
/// `None` if the op is not one this suite dispatches.
fn run<'t>(
    tape: &'t Tape,
    case: &OpCase,
    v: &BTreeMap<String, Var<'t>>,
) -> Option<(BTreeMap<String, Var<'t>>, BTreeMap<String, Tensor>)> {
    let c = &case.config;
    let ty = c["type"].as_str().unwrap();
    let x = || v["input"];
    let mut outs = BTreeMap::new();
    let mut ints = BTreeMap::new();
    let out = match ty {
        "matmul" => x().matmul(v["other"]),
        "add" => x().add_scaled(v["other"], cfg_f64(c, "alpha")),
        "sub" => x().sub(v["other"].mul_scalar(cfg_f64(c, "alpha"))),
        "mul" => x().mul(v["other"]),
        "div" => x().div(v["other"]),
        "exp" => x().exp(),
        "log" => x().log(),
        "tanh" => x().tanh(),
        "sigmoid" => x().sigmoid(),
        "relu" => x().relu(),
        "leaky_relu" => x().leaky_relu(cfg_f64(c, "negative_slope")),
        "gelu" => x().gelu(match c["approximate"].as_str().unwrap() {
            "tanh" => GeluApprox::Tanh,
            _ => GeluApprox::None,
        }),
        "silu" => x().silu(),
        "softmax" => x().softmax(cfg_i(c, "dim")),
        "log_softmax" => x().log_softmax(cfg_i(c, "dim")),
        "sum" => x().sum_dims(&cfg_dims(c, "dim"), c["keepdim"].as_bool().unwrap()),
        "mean" => x().mean_dims(&cfg_dims(c, "dim"), c["keepdim"].as_bool().unwrap()),
        "max" => {
            if c["dim"].is_null() {
                x().max()
            } else {
                let (values, indices) =
                    x().max_dim(cfg_i(c, "dim"), c["keepdim"].as_bool().unwrap());
                ints.insert("indices".to_string(), indices);
                outs.insert("values".to_string(), values);
                return Some((outs, ints));
            }
        }
        "var" => x().var_dims(
            &cfg_dims(c, "dim"),
            cfg_f64(c, "correction"),
            c["keepdim"].as_bool().unwrap(),
        ),
        "transpose" => x().transpose(cfg_i(c, "dim0"), cfg_i(c, "dim1")),
        "permute" => x().permute(&cfg_dims(c, "dims")),
        "reshape" => x().reshape(&cfg_dims(c, "shape")),
        "cat" => {
            let n = case.inputs.len();
            let ts: Vec<Var> = (0..n).map(|i| v[&format!("tensors.{i}")]).collect();
            tape.cat(&ts, cfg_i(c, "dim"))
        }
        "batch_norm" => {
            let training = c["training"].as_bool().unwrap();
            // running statistics are plain tensors updated in place (copies of the inputs)
            let mut rm = v.get("running_mean").map(|r| r.value().copy_contiguous());
            let mut rv = v.get("running_var").map(|r| r.value().copy_contiguous());
            let out = F::batch_norm(
                x(),
                rm.as_mut(),
                rv.as_mut(),
                v.get("weight").copied(),
                v.get("bias").copied(),
                training,
                cfg_f64(c, "momentum"),
                cfg_f64(c, "eps"),
            );
            if training {
                ints.extend(rm.map(|t| ("running_mean".to_string(), t)));
                ints.extend(rv.map(|t| ("running_var".to_string(), t)));
            }
            out
        }
        "layer_norm" => F::layer_norm(
            x(),
            &cfg_usizes(c, "normalized_shape"),
            v.get("weight").copied(),
            v.get("bias").copied(),
            cfg_f64(c, "eps"),
        ),
        "group_norm" => F::group_norm(
            x(),
            cfg_i(c, "num_groups") as usize,
            v.get("weight").copied(),
            v.get("bias").copied(),
            cfg_f64(c, "eps"),
        ),
        "scaled_dot_product_attention" => {
            let bool_mask = v.get("attn_mask").map(|m| m.value());
            let mask = match (v.get("attn_mask"), &bool_mask) {
                (Some(_), Some(m)) if m.dtype() == DType::Bool => Some(AttnMask::Bool(m)),
                (Some(m), _) => Some(AttnMask::Additive(*m)),
                (None, _) => None,
            };
            F::scaled_dot_product_attention(
                v["query"],
                v["key"],
                v["value"],
                mask,
                cfg_f64(c, "dropout_p"),
                c["is_causal"].as_bool().unwrap(),
                c["scale"].as_f64(),
                c["enable_gqa"].as_bool().unwrap(),
            )
        }
        "index_select" => x().index_select(cfg_i(c, "dim"), &case.inputs["index"].tensor()),
        "gather" => x().gather(cfg_i(c, "dim"), &case.inputs["index"].tensor()),
        "embedding" => {
            let padding_idx = c["padding_idx"].as_i64();
            v["weight"].embedding(
                &case.inputs["input"].tensor(),
                padding_idx,
                c["scale_grad_by_freq"].as_bool().unwrap(),
            )
        }
        "conv1d" => x().conv1d(v["weight"], v.get("bias").copied(), &opts(c)),
        "conv2d" => x().conv2d(v["weight"], v.get("bias").copied(), &opts(c)),
        "conv_transpose2d" => x().conv_transpose2d(v["weight"], v.get("bias").copied(), &opts(c)),
        "max_pool2d" => {
            let (out, indices) = x().max_pool2d_with_indices(&opts(c));
            if c["return_indices"].as_bool().unwrap() {
                ints.insert("indices".to_string(), indices);
            }
            out
        }
        "avg_pool2d" => x().avg_pool2d(&opts(c)),
        "adaptive_avg_pool2d" => {
            let s = cfg_usizes(c, "output_size");
            x().adaptive_avg_pool2d([s[0], s[1]])
        }
        _ => return None,
    };
    outs.insert("output".to_string(), out);
    Some((outs, ints))
}

/// Options structs deserialize straight from the fixture config (PyTorch argument names).
fn opts<T: serde::de::DeserializeOwned>(c: &serde_json::Map<String, serde_json::Value>) -> T {
    serde_json::from_value(serde_json::Value::Object(c.clone())).expect("options from config")
}

#[test]
fn ops_match_pytorch() {
    let cases = load_ops();
    let mut failures = Vec::new();
    let mut ran = 0;
    let mut not_dispatched = Vec::new();
    for case in &cases {
        let tape = Tape::new();
        let vars: BTreeMap<String, Var> = case
            .inputs
            .iter()
            .map(|(k, t)| {
                let tensor = t.tensor();
                let var = if case.grads.contains_key(k) {
                    tape.var(tensor)
                } else {
                    tape.constant(tensor)
                };
                (k.clone(), var)
            })
            .collect();
        let Some((outs, ints)) = run(&tape, case, &vars) else {
            not_dispatched.push(case.name.clone());
            continue;
        };
        ran += 1;
        let mut errs = Vec::new();
        for (name, want) in &case.outputs {
            let got = outs
                .get(name)
                .map(|v| v.value())
                .or_else(|| ints.get(name).cloned());
            match got {
                Some(g) => {
                    if let Err(e) = check_close(name, &g, want, case.tolerance) {
                        errs.push(e);
                    }
                }
                None => errs.push(format!("output {name} not produced")),
            }
        }
        // L = Σ_o Σ o ⊙ upstream[o]
        let mut loss: Option<Var> = None;
        for (name, up) in &case.upstream {
            let term = outs[name].mul(tape.constant(up.tensor())).sum();
            loss = Some(match loss {
                None => term,
                Some(l) => l.add(term),
            });
        }
        if let Some(loss) = loss {
            loss.backward();
        }
        for (name, want) in &case.grads {
            match vars[name].grad() {
                Some(g) => {
                    if let Err(e) = check_close(&format!("grad {name}"), &g, want, case.tolerance) {
                        errs.push(e);
                    }
                }
                None => errs.push(format!("no gradient for {name}")),
            }
        }
        if !errs.is_empty() {
            failures.push(format!("{}: {}", case.name, errs.join("; ")));
        }
    }
    println!(
        "ran {ran} of {} op cases; not dispatched: {not_dispatched:?}",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        not_dispatched.is_empty(),
        "every ops.json case must run; not dispatched: {not_dispatched:?}"
    );
    assert_eq!(ran, 89, "ops.json holds 89 cases");
}
