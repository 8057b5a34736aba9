//! Every case of `fixtures/torch/extra/unary_extra.json`: PyTorch 2.15 reference values for
//! the elementwise ops added after the shared fixture set, written by `gen_unary_extra.py`
//! next to it. Forward outputs and input gradients, computed in f32 from the f32 inputs,
//! within each case's tolerance.

use tuna_autograd::{Tape, Var};
use tuna_fixtures::{check_close, load, Case};

/// The op a case names, applied to its input.
fn run<'t>(case: &Case, x: Var<'t>) -> Var<'t> {
    match case.config["type"].as_str().unwrap_or_default() {
        "mish" => x.mish(),
        other => panic!("{}: no dispatch for op `{other}`", case.name),
    }
}

// ANCHOR: mish_fixture
#[test]
fn every_case_matches_pytorch() {
    let cases = load("extra/unary_extra.json");
    assert!(!cases.is_empty());
    for case in &cases {
        let tape = Tape::new();
        let x = tape.var(case.inputs["input"].tensor());
        let y = run(case, x);
        let tol = case.tolerance;
        let name = &case.name;
        check_close(name, &y.value(), &case.outputs["output"], tol).unwrap();
        y.backward_with(case.upstream["output"].tensor());
        let grad = x.grad().expect("input gradient");
        check_close(&format!("{name} grad"), &grad, &case.grads["input"], tol).unwrap();
    }
}
// ANCHOR_END: mish_fixture
