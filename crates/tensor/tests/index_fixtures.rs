//! PyTorch reference cases for `cat`, `index_select` and `gather` from
//! `fixtures/torch/ops.json` (see `fixtures/torch/README.md`, section 4): forward outputs and
//! the vector-Jacobian products with `upstream.output`, expressed with Tuna's own ops
//! (`index_add`, `scatter_add`, `narrow`).

use serde_json::Value;
use tuna_tensor::{DType, Tensor};

fn load_cases() -> Vec<Value> {
    tuna_fixtures::load_raw("ops.json")
}

/// Decodes `{"shape", "dtype", "data"}`: `f32` inputs stay `f32` (exactly), `f64` references
/// stay `f64`, `i64` indices stay `i64`.
/// Decodes a fixture tensor with the shared test-support crate.
fn tensor(v: &Value) -> Tensor {
    serde_json::from_value::<tuna_fixtures::FixtureTensor>(v.clone())
        .expect("fixture tensor")
        .tensor()
}

/// Checks `|got - ref| <= atol + rtol*|ref|` elementwise and equal shapes.
fn check(case: &str, what: &str, got: &Tensor, want: &Value, tol: (f64, f64)) {
    let want = tensor(want);
    assert_eq!(got.shape(), want.shape(), "{case}: {what}: shape");
    let (rtol, atol) = tol;
    let g = got.to_vec_f64();
    let w = want.to_vec_f64();
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!(
            (a - b).abs() <= atol + rtol * b.abs(),
            "{case}: {what}[{i}] = {a}, PyTorch {b} (rtol {rtol}, atol {atol})"
        );
    }
}

#[test]
fn cat_index_select_gather_match_pytorch() {
    let mut counts = [0usize; 3];
    for case in load_cases() {
        let name = case["name"].as_str().expect("name").to_string();
        let kind = name.split('/').next().unwrap_or_default();
        let slot = match kind {
            "cat" => 0,
            "index_select" => 1,
            "gather" => 2,
            _ => continue,
        };
        counts[slot] += 1;
        let tol = (
            case["tolerance"]["rtol"].as_f64().expect("rtol"),
            case["tolerance"]["atol"].as_f64().expect("atol"),
        );
        let dim = case["config"]["dim"].as_i64().expect("config.dim") as isize;
        let inputs = &case["inputs"];
        let upstream = tensor(&case["upstream"]["output"]);
        let grads = case["grads"].as_object().expect("grads");
        let mut checked_grads = 0;
        match kind {
            "cat" => {
                let n = inputs.as_object().expect("inputs").len();
                let parts: Vec<Tensor> = (0..n)
                    .map(|i| tensor(&inputs[format!("tensors.{i}")]))
                    .collect();
                let refs: Vec<&Tensor> = parts.iter().collect();
                let out = Tensor::cat(&refs, dim);
                check(&name, "output", &out, &case["outputs"]["output"], tol);
                let mut offset = 0;
                for (i, p) in parts.iter().enumerate() {
                    let len = p.size(dim);
                    let key = format!("tensors.{i}");
                    if let Some(want) = grads.get(&key) {
                        check(
                            &name,
                            &format!("grad {key}"),
                            &upstream.narrow(dim, offset, len),
                            want,
                            tol,
                        );
                        checked_grads += 1;
                    }
                    offset += len;
                }
            }
            "index_select" | "gather" => {
                let input = tensor(&inputs["input"]);
                let index = tensor(&inputs["index"]);
                assert_eq!(index.dtype(), DType::I64, "{name}: index dtype");
                let zeros = Tensor::zeros(input.shape(), DType::F32);
                let (out, grad) = if kind == "index_select" {
                    (
                        input.index_select(dim, &index),
                        zeros.index_add(dim, &index, &upstream),
                    )
                } else {
                    (
                        input.gather(dim, &index),
                        zeros.scatter_add(dim, &index, &upstream),
                    )
                };
                check(&name, "output", &out, &case["outputs"]["output"], tol);
                if let Some(want) = grads.get("input") {
                    check(&name, "grad input", &grad, want, tol);
                    checked_grads += 1;
                }
            }
            _ => unreachable!(),
        }
        assert_eq!(
            checked_grads,
            grads.len(),
            "{name}: every stored gradient is checked"
        );
    }
    assert!(
        counts.iter().all(|&c| c > 0),
        "cases found per kind (cat, index_select, gather): {counts:?}"
    );
}
