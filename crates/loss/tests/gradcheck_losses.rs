//! Every loss's analytic gradients checked against central finite differences in f64, for
//! every reduction, on small random inputs (proptest over seeds and sizes, few cases).
//! Differentiated inputs are exactly those PyTorch differentiates; labels stay constants.
//! Inputs keep away from the losses' kinks (hinges, the Smooth L1 switch) by their random
//! draw; GaussianNLL variances stay above `eps` (below it PyTorch's clamp is deliberately
//! not differentiated, so finite differences disagree by design).

use proptest::prelude::*;
use serde_json::{json, Value};
use tuna_autograd::gradcheck::{gradcheck_with, GradCheckOptions};
use tuna_autograd::{Tape, Var};
use tuna_loss::Loss;
use tuna_tensor::{DType, Tensor};

/// Deterministic values in [lo, hi) from a seed (splitmix64).
fn values(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n as u64)
        .map(|i| {
            let mut z = seed.wrapping_add((i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            lo + (hi - lo) * ((z >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

fn rand(shape: &[usize], seed: u64, lo: f64, hi: f64) -> Tensor {
    Tensor::from_vec(values(seed, shape.iter().product(), lo, hi), shape)
}

fn signs(shape: &[usize], seed: u64) -> Tensor {
    let v: Vec<f64> = values(seed, shape.iter().product(), 0.0, 1.0)
        .into_iter()
        .map(|u| if u < 0.5 { -1.0 } else { 1.0 })
        .collect();
    Tensor::from_vec(v, shape)
}

fn classes(shape: &[usize], seed: u64, c: usize) -> Tensor {
    let v: Vec<i64> = values(seed, shape.iter().product(), 0.0, c as f64)
        .into_iter()
        .map(|u| u as i64)
        .collect();
    Tensor::from_vec(v, shape)
}

fn weight(c: usize, seed: u64) -> Value {
    json!(values(seed, c, 0.3, 2.0))
}

/// Checks `config` for each of `reductions`: `diff` inputs are differentiated, `consts`
/// are not.
fn check(config: Value, reductions: &[&str], diff: &[(&str, Tensor)], consts: &[(&str, Tensor)]) {
    tuna_loss::link();
    for r in reductions {
        let mut cfg = config.clone();
        cfg["reduction"] = json!(r);
        let loss: Box<dyn Loss> = serde_json::from_value(cfg.clone()).unwrap();
        let inputs: Vec<Tensor> = diff.iter().map(|(_, t)| t.clone()).collect();
        let opts = GradCheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
        };
        let res = gradcheck_with(
            |tape, vars| call(loss.as_ref(), tape, vars, diff, consts),
            &inputs,
            opts,
        );
        if let Err(e) = res {
            panic!("{cfg}: {e}");
        }
    }
}

fn call<'t>(
    loss: &dyn Loss,
    tape: &'t Tape,
    vars: &[Var<'t>],
    diff: &[(&str, Tensor)],
    consts: &[(&str, Tensor)],
) -> Var<'t> {
    let mut args: Vec<(&str, Var<'t>)> = Vec::new();
    for ((name, _), v) in diff.iter().zip(vars) {
        args.push((name, *v));
    }
    for (name, t) in consts {
        args.push((name, tape.constant(t.clone())));
    }
    loss.forward_named(&args).unwrap()
}

const ALL: &[&str] = &["mean", "sum", "none"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn regression(seed in any::<u64>(), n in 1usize..4, d in 1usize..5) {
        let s = [n, d];
        let io = [("input", rand(&s, seed, -2.0, 2.0)), ("target", rand(&s, seed ^ 1, -2.0, 2.0))];
        check(json!({"type": "MSELoss"}), ALL, &io, &[]);
        check(json!({"type": "L1Loss"}), ALL, &io, &[]);
        check(json!({"type": "SmoothL1Loss", "beta": 0.5}), ALL, &io, &[]);
        check(json!({"type": "SmoothL1Loss", "beta": 0.0}), ALL, &io, &[]);
        check(json!({"type": "HuberLoss", "delta": 0.7}), ALL, &io, &[]);
    }

    #[test]
    fn classification(seed in any::<u64>(), n in 1usize..4, c in 2usize..5) {
        // index targets, K-dim, weight + ignore_index + smoothing
        let mut t = classes(&[n, 2], seed ^ 2, c);
        t.data_mut::<i64>()[0] = 1;
        t.data_mut::<i64>()[1] = 0; // ignored
        let x = rand(&[n, c, 2], seed, -2.0, 2.0);
        check(
            json!({"type": "CrossEntropyLoss", "weight": weight(c, seed ^ 3), "ignore_index": 0, "label_smoothing": 0.1}),
            ALL, &[("input", x.clone())], &[("target", t.clone())],
        );
        check(json!({"type": "NLLLoss", "weight": weight(c, seed ^ 3)}), ALL, &[("input", x)], &[("target", t)]);
        // unbatched
        check(json!({"type": "CrossEntropyLoss"}), ALL, &[("input", rand(&[c], seed, -2.0, 2.0))],
              &[("target", Tensor::scalar(1i64))]);
        // probability targets (differentiated)
        let x = rand(&[n, c], seed ^ 4, -2.0, 2.0);
        let p = rand(&[n, c], seed ^ 5, 0.1, 1.0);
        check(
            json!({"type": "CrossEntropyLoss", "weight": weight(c, seed ^ 6), "label_smoothing": 0.2}),
            ALL, &[("input", x.clone()), ("target", p.clone())], &[],
        );
        // margins
        let y = classes(&[n], seed ^ 7, c);
        for (pp, m) in [(1, 1.0), (2, 0.5)] {
            check(json!({"type": "MultiMarginLoss", "p": pp, "margin": m, "weight": weight(c, seed ^ 8)}),
                  ALL, &[("input", x.clone())], &[("target", y.clone())]);
        }
        let mut ml = vec![-1i64; n * c];
        for i in 0..n {
            ml[i * c] = (i % c) as i64;
            if c > 2 && i % 2 == 0 { ml[i * c + 1] = ((i + 1) % c) as i64; }
        }
        check(json!({"type": "MultiLabelMarginLoss"}), ALL, &[("input", x.clone())],
              &[("target", Tensor::from_vec(ml, &[n, c]))]);
        let zero_one = Tensor::from_vec(values(seed ^ 9, n * c, 0.0, 1.0).into_iter().map(|u| (u < 0.5) as i64 as f64).collect::<Vec<_>>(), &[n, c]);
        check(json!({"type": "MultiLabelSoftMarginLoss", "weight": weight(c, seed ^ 10)}), ALL,
              &[("input", x.clone())], &[("target", zero_one)]);
        check(json!({"type": "SoftMarginLoss"}), ALL, &[("input", x)], &[("target", signs(&[n, c], seed ^ 11))]);
    }

    #[test]
    fn binary_and_distributions(seed in any::<u64>(), n in 1usize..4, c in 1usize..4) {
        let s = [n, c];
        let t01 = rand(&s, seed ^ 1, 0.05, 0.95);
        check(json!({"type": "BCELoss", "weight": weight(c, seed ^ 2)}), ALL,
              &[("input", rand(&s, seed, 0.05, 0.95)), ("target", t01.clone())], &[]);
        let x = rand(&s, seed ^ 3, -3.0, 3.0);
        check(json!({"type": "BCEWithLogitsLoss", "weight": weight(c, seed ^ 4), "pos_weight": weight(c, seed ^ 5)}),
              ALL, &[("input", x.clone()), ("target", t01.clone())], &[]);
        check(json!({"type": "FocalLoss", "alpha": 0.25, "gamma": 2.0}), ALL,
              &[("input", x.clone()), ("target", t01.clone())], &[]);
        check(json!({"type": "FocalLoss", "alpha": -1.0, "gamma": 1.5}), ALL,
              &[("input", x.clone()), ("target", t01.clone())], &[]);
        let kl = ["mean", "sum", "none", "batchmean"];
        check(json!({"type": "KLDivLoss"}), &kl, &[("input", x.clone()), ("target", t01.clone())], &[]);
        check(json!({"type": "KLDivLoss", "log_target": true}), &kl, &[("input", x.clone()), ("target", x.clone())], &[]);
        let counts = rand(&s, seed ^ 6, 0.2, 3.0);
        for (log_input, full, lo) in [(true, false, -1.0), (false, false, 0.5), (true, true, -1.0), (false, true, 0.5)] {
            check(json!({"type": "PoissonNLLLoss", "log_input": log_input, "full": full}), ALL,
                  &[("input", rand(&s, seed ^ 7, lo, 1.5)), ("target", counts.clone())], &[]);
        }
        for vs in [vec![n, c], vec![n, 1], vec![n]] {
            check(json!({"type": "GaussianNLLLoss", "full": true}), ALL,
                  &[("input", x.clone()), ("target", counts.clone()), ("var", rand(&vs, seed ^ 8, 0.3, 2.0))], &[]);
        }
    }

    #[test]
    fn embeddings(seed in any::<u64>(), n in 1usize..4, d in 2usize..5) {
        let s = [n, d];
        check(json!({"type": "HingeEmbeddingLoss", "margin": 1.5}), ALL,
              &[("input", rand(&s, seed, 0.0, 2.0))], &[("target", signs(&s, seed ^ 1))]);
        check(json!({"type": "MarginRankingLoss", "margin": 0.5}), ALL,
              &[("input1", rand(&[n], seed ^ 2, -2.0, 2.0)), ("input2", rand(&[n], seed ^ 3, -2.0, 2.0))],
              &[("target", signs(&[n], seed ^ 4))]);
        let (a, b) = (rand(&s, seed ^ 5, -2.0, 2.0), rand(&s, seed ^ 6, -2.0, 2.0));
        check(json!({"type": "CosineEmbeddingLoss", "margin": -0.5}), ALL,
              &[("input1", a.clone()), ("input2", b.clone())], &[("target", signs(&[n], seed ^ 7))]);
        let apn = [("anchor", a), ("positive", b), ("negative", rand(&s, seed ^ 8, -2.0, 2.0))];
        for (p, swap) in [(2.0, false), (1.0, true), (3.0, false)] {
            check(json!({"type": "TripletMarginLoss", "margin": 10.0, "p": p, "swap": swap}), ALL, &apn, &[]);
        }
        check(json!({"type": "TripletMarginWithDistanceLoss", "margin": 10.0, "swap": true}), ALL, &apn, &[]);
        check(json!({"type": "TripletMarginWithDistanceLoss", "margin": 3.0,
                     "distance_function": {"type": "CosineDistance"}}), ALL, &apn, &[]);
    }
}

#[test]
fn linear_cross_entropy_input_gradient() {
    tuna_loss::link();
    for r in ALL {
        let loss: Box<dyn Loss> = serde_json::from_value(json!({
            "type": "LinearCrossEntropyLoss", "in_features": 3, "num_classes": 4, "bias": true,
            "label_smoothing": 0.1, "reduction": r
        }))
        .unwrap();
        for (i, (_, p)) in loss.parameters().into_iter().enumerate() {
            p.set_value(rand(&p.shape(), 40 + i as u64, -1.0, 1.0));
        }
        let t = Tensor::from_vec(vec![0i64, 3, 2], &[3]);
        let consts = [("target", t)];
        gradcheck_with(
            |tape, v| {
                call(
                    loss.as_ref(),
                    tape,
                    v,
                    &[("input", Tensor::zeros(&[0], DType::F64))],
                    &consts,
                )
            },
            &[rand(&[3, 3], 7, -1.0, 1.0)],
            GradCheckOptions::default(),
        )
        .unwrap_or_else(|e| panic!("LinearCrossEntropyLoss {r}: {e}"));
    }
}

/// Below `eps`, GaussianNLLLoss's variance gradient is deliberately the unclamped formula's
/// (PyTorch clamps under `no_grad`), so finite differences, which see a constant, disagree:
/// this also shows that the gradient check does catch a wrong gradient.
#[test]
fn gaussian_nll_clamp_is_not_differentiated() {
    tuna_loss::link();
    let loss: Box<dyn Loss> =
        serde_json::from_value(json!({"type": "GaussianNLLLoss", "eps": 0.5})).unwrap();
    let x = rand(&[2, 2], 1, -1.0, 1.0);
    let var = rand(&[2, 2], 2, 0.01, 0.2); // all below eps
    let consts = [("input", x.clone()), ("target", x.mul_scalar(0.5))];
    let res = gradcheck_with(
        |tape, v| call(loss.as_ref(), tape, v, &[("var", var.clone())], &consts),
        std::slice::from_ref(&var),
        GradCheckOptions::default(),
    );
    assert!(res.is_err(), "the clamp must not be differentiated");
}
