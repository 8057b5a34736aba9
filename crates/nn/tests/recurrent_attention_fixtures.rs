//! Every `layers.json` case of type LSTM, GRU, RNN, MultiheadAttention and
//! TransformerEncoderLayer, against PyTorch: built from the case config, loaded from its
//! state dict, then outputs, input gradients and parameter gradients (by state-dict name)
//! compared at the case's tolerance.
//!
//! ```python
//! m = nn.LSTM(3, 4, batch_first=True).double(); m.load_state_dict(sd)
//! out, (h, c) = m(x, (h0, c0)); (out*u_out + h*u_h + c*u_c).sum().backward()
//! ```

use std::any::Any;

use tuna_autograd::{Tape, Var};
use tuna_fixtures::{check_close, Case};
use tuna_nn::{
    load_state_dict, BuildContext, Gru, LayerConfig, Lstm, Module, MultiheadAttention, Rnn,
    TransformerEncoderLayer,
};
use tuna_tensor::Tensor;

const TYPES: [&str; 5] = [
    "LSTM",
    "GRU",
    "RNN",
    "MultiheadAttention",
    "TransformerEncoderLayer",
];

fn raw_cases() -> Vec<serde_json::Value> {
    tuna_fixtures::load_raw("layers.json")
        .into_iter()
        .filter(|c| TYPES.contains(&c["config"]["type"].as_str().unwrap_or("")))
        .collect()
}

fn tensor(v: &serde_json::Value) -> Tensor {
    let ft: tuna_fixtures::FixtureTensor = serde_json::from_value(v.clone()).unwrap();
    ft.tensor()
}

fn fixture(v: &serde_json::Value) -> tuna_fixtures::FixtureTensor {
    serde_json::from_value(v.clone()).unwrap()
}

fn as_any(m: &dyn Module) -> &dyn Any {
    m.as_any().expect("the layer exposes its concrete type")
}

fn run_case(case: &serde_json::Value) -> Result<(), String> {
    let name = case["name"].as_str().unwrap();
    let base: Case = serde_json::from_value(serde_json::json!({
        "name": name, "config": case["config"], "tolerance": case["tolerance"]
    }))
    .map_err(|e| e.to_string())?;
    let tol = base.tolerance;
    let spec: Box<dyn LayerConfig> =
        serde_json::from_value(case["config"].clone()).map_err(|e| format!("{name}: {e}"))?;
    let mut module = spec
        .build(&mut BuildContext::new(0))
        .map_err(|e| format!("{name}: {e}"))?;
    let state: Vec<(String, Tensor)> = case["state_dict"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), tensor(v)))
        .collect();
    load_state_dict(module.as_ref(), &state, true).map_err(|e| format!("{name}: {e}"))?;
    let kwargs = case["forward_kwargs"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let kw_bool = |k: &str, d: bool| kwargs.get(k).and_then(|v| v.as_bool()).unwrap_or(d);
    for (si, step) in case["steps"].as_array().unwrap().iter().enumerate() {
        module.set_training(step["training"].as_bool().unwrap());
        for (_, p) in module.named_parameters() {
            p.zero_grad();
        }
        let inputs = step["inputs"].as_object().unwrap();
        let tape = Tape::new();
        let mut vars: Vec<(String, Var)> = Vec::new();
        let mut var = |k: &str| -> Option<Var> {
            let v = inputs.get(k)?;
            let t = tensor(v);
            let var = if step["grads"].get(k).is_some() {
                tape.var(t)
            } else {
                tape.constant(t)
            };
            vars.push((k.to_string(), var));
            Some(var)
        };
        let mask = |k: &str| inputs.get(k).map(tensor);
        let ty = module.name();
        let outputs: Vec<(&str, Var)> = match ty {
            "LSTM" => {
                let m = as_any(module.as_ref()).downcast_ref::<Lstm>().unwrap();
                let x = var("input").unwrap();
                let state = var("h_0").map(|h| (h, var("c_0").unwrap()));
                let (o, (h, c)) = m.forward_with_state(x, state);
                vec![("output", o), ("h_n", h), ("c_n", c)]
            }
            "GRU" | "RNN" => {
                let x = var("input").unwrap();
                let h0 = var("h_0");
                let (o, h) = if ty == "GRU" {
                    as_any(module.as_ref())
                        .downcast_ref::<Gru>()
                        .unwrap()
                        .forward_with_state(x, h0)
                } else {
                    as_any(module.as_ref())
                        .downcast_ref::<Rnn>()
                        .unwrap()
                        .forward_with_state(x, h0)
                };
                vec![("output", o), ("h_n", h)]
            }
            "MultiheadAttention" => {
                let m = as_any(module.as_ref())
                    .downcast_ref::<MultiheadAttention>()
                    .unwrap();
                let (q, k, v) = (
                    var("query").unwrap(),
                    var("key").unwrap(),
                    var("value").unwrap(),
                );
                let (o, w) = m.forward_full(
                    q,
                    k,
                    v,
                    mask("key_padding_mask").as_ref(),
                    kw_bool("need_weights", true),
                    mask("attn_mask").as_ref(),
                    kw_bool("average_attn_weights", true),
                    kw_bool("is_causal", false),
                );
                let mut outs = vec![("attn_output", o)];
                outs.extend(w.map(|w| ("attn_output_weights", w)));
                outs
            }
            "TransformerEncoderLayer" => {
                let m = as_any(module.as_ref())
                    .downcast_ref::<TransformerEncoderLayer>()
                    .unwrap();
                let src = var("src").unwrap();
                let o = m.forward_full(
                    src,
                    mask("src_mask").as_ref(),
                    mask("src_key_padding_mask").as_ref(),
                    kw_bool("is_causal", false),
                );
                vec![("output", o)]
            }
            other => return Err(format!("{name}: unexpected type {other}")),
        };
        let want_outputs = step["outputs"].as_object().unwrap();
        if want_outputs.len() != outputs.len() {
            return Err(format!(
                "{name}: {} outputs, expected {:?}",
                outputs.len(),
                want_outputs.keys().collect::<Vec<_>>()
            ));
        }
        // L = Σ_o Σ o ⊙ upstream[o]
        let mut loss: Option<Var> = None;
        for (k, o) in &outputs {
            let want = want_outputs
                .get(*k)
                .ok_or_else(|| format!("{name}: no reference for output {k}"))?;
            check_close(
                &format!("{name} step {si} {k}"),
                &o.value(),
                &fixture(want),
                tol,
            )?;
            let up = tensor(&step["upstream"][*k]);
            let term = o.mul(tape.constant(up.to_dtype(o.dtype()))).sum();
            loss = Some(match loss {
                None => term,
                Some(l) => l.add(term),
            });
        }
        loss.unwrap().backward();
        for (k, want) in step["grads"].as_object().unwrap() {
            let v = vars
                .iter()
                .find(|(n, _)| n == k)
                .ok_or_else(|| format!("{name}: no input {k}"))?
                .1;
            let g = v
                .grad()
                .ok_or_else(|| format!("{name}: no gradient for {k}"))?;
            check_close(
                &format!("{name} step {si} grad {k}"),
                &g,
                &fixture(want),
                tol,
            )?;
        }
        let params = module.named_parameters();
        let want_pg = step["param_grads"].as_object().unwrap();
        if want_pg.len() != params.len() {
            return Err(format!(
                "{name}: {} params, {} reference grads",
                params.len(),
                want_pg.len()
            ));
        }
        for (k, want) in want_pg {
            let p = &params
                .iter()
                .find(|(n, _)| n == k)
                .ok_or_else(|| format!("{name}: no parameter {k}"))?
                .1;
            let g = p
                .grad()
                .ok_or_else(|| format!("{name}: no gradient for {k}"))?;
            check_close(
                &format!("{name} step {si} param grad {k}"),
                &g,
                &fixture(want),
                tol,
            )?;
        }
    }
    Ok(())
}

#[test]
fn every_recurrent_and_attention_case_matches_pytorch() {
    let cases = raw_cases();
    let expected = tuna_fixtures::load_raw("layers.json")
        .iter()
        .filter(|c| TYPES.contains(&c["config"]["type"].as_str().unwrap_or("")))
        .count();
    let mut ran = 0;
    let mut failures = Vec::new();
    for case in &cases {
        match run_case(case) {
            Ok(()) => ran += 1,
            Err(e) => failures.push(e),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(ran, expected);
    assert_eq!(ran, 15, "layers.json has 15 recurrent/attention cases");
}
