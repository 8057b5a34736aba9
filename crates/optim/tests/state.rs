//! Optimizer state save/load: resuming from a file equals never stopping, bit for bit; state
//! is keyed by parameter names, so new `Param` objects and reloaded weights keep it; every
//! mismatch is reported.

use tuna_autograd::{NamedParam, Param};
use tuna_optim::{OptimError, Optimizer, OptimizerConfig, OptimizerState, ParamGroupConfig};
use tuna_tensor::Tensor;

fn cfg(json: &str) -> Box<dyn OptimizerConfig> {
    serde_json::from_str(json).unwrap()
}

/// A small model: `0.weight` [3, 4], `0.bias` [4], `norm.weight` [4], deterministic values.
fn model(values: Option<&[Vec<f32>]>) -> Vec<NamedParam> {
    let shapes: [(&str, Vec<usize>); 3] = [
        ("0.weight", vec![3, 4]),
        ("0.bias", vec![4]),
        ("norm.weight", vec![4]),
    ];
    shapes
        .iter()
        .enumerate()
        .map(|(k, (n, s))| {
            let len: usize = s.iter().product();
            let v = match values {
                Some(vs) => vs[k].clone(),
                None => (0..len)
                    .map(|i| ((i * 7 + k * 3) % 11) as f32 / 5.0 - 1.0)
                    .collect(),
            };
            (n.to_string(), Param::new(Tensor::from_vec(v, s)))
        })
        .collect()
}

/// Sets gradients of a smooth non-quadratic loss, skipping `norm.weight` on odd steps.
fn set_grads(params: &[NamedParam], step: usize) {
    for (n, p) in params {
        if n == "norm.weight" && step % 2 == 1 {
            p.zero_grad();
            continue;
        }
        let v = p.value().to_vec::<f32>();
        let g: Vec<f32> = v.iter().map(|&x| x - 0.3 + 0.2 * (3.0 * x).sin()).collect();
        p.set_grad(Some(Tensor::from_vec(g, p.shape().as_slice())));
    }
}

fn values(params: &[NamedParam]) -> Vec<Vec<f32>> {
    params
        .iter()
        .map(|(_, p)| p.value().to_vec::<f32>())
        .collect()
}

fn run(opt: &mut dyn Optimizer, params: &[NamedParam], steps: std::ops::Range<usize>) {
    for s in steps {
        set_grads(params, s);
        // a schedule sets the lr each step
        opt.set_lr(0, 0.05 / (1.0 + s as f64 * 0.01)).unwrap();
        opt.step().unwrap();
    }
}

fn groups() -> Vec<ParamGroupConfig> {
    vec![ParamGroupConfig::new(["*.bias", "*norm*"]).weight_decay(0.0)]
}

fn resume_equals_uninterrupted(json: &str) {
    let dir = std::env::temp_dir().join(format!("tuna-optim-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.safetensors", json.len()));

    let full = model(None);
    let mut a = cfg(json).build(full.clone(), &groups()).unwrap();
    run(a.as_mut(), &full, 0..25);

    let first = model(None);
    let mut b = cfg(json).build(first.clone(), &groups()).unwrap();
    run(b.as_mut(), &first, 0..10);
    b.save(&path).unwrap();
    let saved_values = values(&first);
    drop(b);

    // a fresh process: new Param objects loaded from the weights, a fresh optimizer
    let second = model(Some(&saved_values));
    let mut c = cfg(json).build(second.clone(), &groups()).unwrap();
    c.load(&path).unwrap();
    run(c.as_mut(), &second, 10..25);

    let (x, y) = (values(&full), values(&second));
    for (u, v) in x.iter().zip(&y) {
        let (ub, vb): (Vec<u32>, Vec<u32>) = (
            u.iter().map(|f| f.to_bits()).collect(),
            v.iter().map(|f| f.to_bits()).collect(),
        );
        assert_eq!(
            ub, vb,
            "{json}: resumed run differs from the uninterrupted one"
        );
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn resume_sgd_momentum_bit_identical() {
    resume_equals_uninterrupted(
        r#"{"type": "SGD", "lr": 0.05, "momentum": 0.9, "nesterov": true, "weight_decay": 1e-3}"#,
    );
}

#[test]
fn resume_adam_bit_identical() {
    resume_equals_uninterrupted(
        r#"{"type": "Adam", "lr": 0.05, "amsgrad": true, "weight_decay": 0.01}"#,
    );
}

#[test]
fn resume_others_bit_identical() {
    for json in [
        r#"{"type": "AdamW", "lr": 0.05}"#,
        r#"{"type": "RMSprop", "lr": 0.01, "centered": true, "momentum": 0.5}"#,
        r#"{"type": "ASGD", "lr": 0.05, "t0": 3.0}"#,
        r#"{"type": "NAdam", "lr": 0.05}"#,
        r#"{"type": "Adafactor", "lr": 0.05}"#,
        r#"{"type": "LAMB", "lr": 0.05}"#,
    ] {
        resume_equals_uninterrupted(json);
    }
}

#[test]
fn replacing_param_values_keeps_state() {
    let ps = model(None);
    let mut opt = cfg(r#"{"type": "Adam", "lr": 0.1}"#)
        .build(ps.clone(), &[])
        .unwrap();
    run(opt.as_mut(), &ps, 0..3);
    let before = opt.state_dict();
    // reload weights into the same handles (e.g. from a checkpoint)
    for (_, p) in &ps {
        p.set_value(p.value().copy_contiguous());
    }
    let after = opt.state_dict();
    assert_eq!(before.params, after.params);
    assert_eq!(
        before.tensors.keys().collect::<Vec<_>>(),
        after.tensors.keys().collect::<Vec<_>>()
    );
    assert_eq!(after.params["0.weight"].step, 3);
    assert!(after.tensors.contains_key("0.weight.exp_avg"));
    run(opt.as_mut(), &ps, 3..4);
    assert_eq!(opt.state_dict().params["0.weight"].step, 4);
}

#[test]
fn state_file_layout() {
    let ps = model(None);
    let mut opt = cfg(r#"{"type": "SGD", "lr": 0.1, "momentum": 0.9}"#)
        .build(ps.clone(), &[])
        .unwrap();
    run(opt.as_mut(), &ps, 0..2);
    let bytes = opt.state_dict().to_bytes().unwrap();
    let st = OptimizerState::from_bytes(&bytes).unwrap();
    let keys: Vec<&String> = st.tensors.keys().collect();
    assert_eq!(
        keys,
        [
            "0.bias.momentum_buffer",
            "0.weight.momentum_buffer",
            "norm.weight.momentum_buffer"
        ]
    );
    assert_eq!(st.optimizer, "SGD");
    assert_eq!(st.groups[0].options["lr"], 0.05 / 1.01);
    assert_eq!(st.params["norm.weight"].step, 1); // skipped on the odd step
}

#[test]
fn mismatches_are_all_reported() {
    let ps = model(None);
    let mut opt = cfg(r#"{"type": "Adam"}"#).build(ps.clone(), &[]).unwrap();
    run(opt.as_mut(), &ps, 0..2);
    let mut st = opt.state_dict();
    st.tensors.insert(
        "0.weight.exp_avg".into(),
        Tensor::zeros(&[4, 3], tuna_tensor::DType::F32),
    );
    st.tensors.remove("0.bias.exp_avg_sq");
    st.params.insert("ghost".into(), Default::default());
    let mut fresh = cfg(r#"{"type": "Adam"}"#).build(model(None), &[]).unwrap();
    let err = fresh.load_state_dict(&st).unwrap_err();
    let OptimError::StateMismatch(problems) = &err else {
        panic!("{err}")
    };
    assert_eq!(problems.len(), 3, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("`0.weight.exp_avg` has shape [4, 3], expected [3, 4]"),
        "{msg}"
    );
    assert!(
        msg.contains("missing state tensor `0.bias.exp_avg_sq`"),
        "{msg}"
    );
    assert!(msg.contains("unknown parameter `ghost`"), "{msg}");
    // wrong optimizer type and groups
    let mut sgd = cfg(r#"{"type": "SGD"}"#)
        .build(model(None), &groups())
        .unwrap();
    let err = sgd
        .load_state_dict(&opt.state_dict())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("state is for optimizer `Adam`, this is `SGD`"),
        "{err}"
    );
    assert!(err.contains("param group"), "{err}");
    // a missing file names the path
    let err = fresh
        .load(std::path::Path::new("/nonexistent/opt.safetensors"))
        .unwrap_err();
    assert!(
        err.to_string().starts_with("/nonexistent/opt.safetensors:"),
        "{err}"
    );
}

#[test]
fn a_missing_state_scalar_is_an_error_naming_the_parameter() {
    let ps = model(None);
    let mut opt = cfg(r#"{"type": "NAdam", "lr": 0.05}"#)
        .build(ps.clone(), &[])
        .unwrap();
    run(opt.as_mut(), &ps, 0..2);
    let mut st = opt.state_dict();
    st.params
        .get_mut("0.weight")
        .unwrap()
        .scalars
        .remove("mu_product");
    let mut fresh = cfg(r#"{"type": "NAdam", "lr": 0.05}"#)
        .build(model(None), &[])
        .unwrap();
    let before = fresh.param_groups();
    let err = fresh.load_state_dict(&st).unwrap_err().to_string();
    assert!(
        err.contains("missing state scalar `0.weight.mu_product`"),
        "{err}"
    );
    // nothing changed: the groups keep their settings and the optimizer its (empty) state
    assert_eq!(fresh.param_groups(), before);
    assert!(fresh.state_dict().params.is_empty());
}

#[test]
fn the_state_of_a_parameter_is_typed() {
    use tuna_optim::{Adam, AdamConfig, RuleState};
    let ps = model(None);
    let mut adam = Adam::new(
        &AdamConfig {
            amsgrad: true,
            ..Default::default()
        },
        ps.clone(),
        &[],
    )
    .unwrap();
    run(&mut adam, &ps, 0..3);
    let state = adam.param_state("0.weight").expect("stepped");
    assert_eq!(state.step(), 3);
    assert_eq!(state.exp_avg.shape(), [3, 4]);
    let vmax = state
        .max_exp_avg_sq
        .as_ref()
        .expect("amsgrad keeps the maximum");
    let (v, vmax) = (state.exp_avg_sq.to_vec::<f32>(), vmax.to_vec::<f32>());
    assert!(v.iter().zip(&vmax).all(|(v, m)| v <= m));
    assert_eq!(adam.param_state("norm.weight").unwrap().step, 2);
}
