//! The optimizer plugin registry and the parameter-group mechanism.

use std::collections::HashSet;

use tuna_autograd::{NamedParam, Param};
use tuna_optim::*;
use tuna_tensor::Tensor;

fn all() -> Vec<Box<dyn OptimizerConfig>> {
    vec![
        Box::new(SgdConfig::default()),
        Box::new(AdamConfig::default()),
        Box::new(AdamWConfig::default()),
        Box::new(RmsPropConfig::default()),
        Box::new(AdagradConfig::default()),
        Box::new(AdadeltaConfig::default()),
        Box::new(AdamaxConfig::default()),
        Box::new(NAdamConfig::default()),
        Box::new(RAdamConfig::default()),
        Box::new(AsgdConfig::default()),
        Box::new(RpropConfig::default()),
        Box::new(AdafactorConfig::default()),
        Box::new(MuonConfig::default()),
        Box::new(LionConfig::default()),
        Box::new(LambConfig::default()),
    ]
}

#[test]
fn every_builtin_round_trips_and_tags_are_unique() {
    link();
    let mut tags = HashSet::new();
    for c in all() {
        c.validate().unwrap();
        let json = serde_json::to_value(&c).unwrap();
        let tag = json["type"].as_str().unwrap().to_string();
        assert!(tags.insert(tag.clone()), "duplicate tag {tag}");
        let back: Box<dyn OptimizerConfig> = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
        // TOML too, as an `[optimizer]` table
        let text = toml::to_string(&c).unwrap();
        let back: Box<dyn OptimizerConfig> = toml::from_str(&text).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), json, "{text}");
        // the tag is the PyTorch class name
        let p = Param::new(Tensor::zeros(&[2, 2], tuna_tensor::DType::F32));
        let opt = c.build(vec![("w".into(), p)], &[]).unwrap();
        assert_eq!(opt.name(), tag);
    }
    assert_eq!(tags.len(), 15);
}

#[test]
fn unknown_type_lists_known_types() {
    let e = serde_json::from_str::<Box<dyn OptimizerConfig>>(r#"{"type": "Adamm"}"#)
        .unwrap_err()
        .to_string();
    for known in ["SGD", "Adam", "AdamW", "RMSprop", "Muon", "LAMB"] {
        assert!(e.contains(&format!("`{known}`")), "{e}");
    }
}

#[test]
fn unknown_field_is_rejected() {
    let e = serde_json::from_str::<Box<dyn OptimizerConfig>>(
        r#"{"type": "SGD", "betas": [0.9, 0.99]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("unknown field `betas`"), "{e}");
}

fn net() -> Vec<NamedParam> {
    [
        "0.weight",
        "0.bias",
        "norm1.weight",
        "norm1.bias",
        "head.weight",
    ]
    .iter()
    .map(|n| {
        (
            n.to_string(),
            Param::new(Tensor::from_vec(vec![1.0f32, -1.0], &[2])),
        )
    })
    .collect()
}

#[test]
fn no_decay_on_biases_and_norms_is_one_group() {
    let cfg: Box<dyn OptimizerConfig> = toml::from_str(
        r#"
        type = "AdamW"
        lr = 1e-3
        weight_decay = 0.05
        "#,
    )
    .unwrap();
    #[derive(serde::Deserialize)]
    struct Groups {
        param_groups: Vec<ParamGroupConfig>,
    }
    let g: Groups = toml::from_str(
        r#"
        [[param_groups]]
        params = ["*.bias", "*norm*"]
        weight_decay = 0.0
        "#,
    )
    .unwrap();
    let opt = cfg.build(net(), &g.param_groups).unwrap();
    let groups = opt.param_groups();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].params, ["0.bias", "norm1.weight", "norm1.bias"]);
    assert_eq!(groups[0].options["weight_decay"], 0.0);
    assert_eq!(groups[1].params, ["0.weight", "head.weight"]);
    assert_eq!(groups[1].options["weight_decay"], 0.05);
    assert_eq!(groups[1].momentum, Some(0.9));
}

#[test]
fn group_errors_name_the_group() {
    let sgd = SgdConfig::default();
    let typo = [ParamGroupConfig::new(["*.bais"]).lr(0.1)];
    let e = sgd.build(net(), &typo).unwrap_err().to_string();
    assert!(
        e.starts_with("SGD.param_groups[0].params: patterns [\"*.bais\"] match no parameter"),
        "{e}"
    );
    let bad_field = [ParamGroupConfig::new(["*.bias"]).set("betas", vec![0.9, 0.99])];
    let e = sgd.build(net(), &bad_field).unwrap_err().to_string();
    assert!(
        e.contains("param_groups[0]") && e.contains("unknown field `betas`"),
        "{e}"
    );
    let bad_value = [ParamGroupConfig::new(["*.bias"]).lr(-1.0)];
    let e = sgd.build(net(), &bad_value).unwrap_err().to_string();
    assert_eq!(
        e,
        "SGD.lr (in param_groups[0]): must be a finite number >= 0, got -1"
    );
    let mut dup = net();
    dup.push(dup[0].clone());
    assert!(sgd
        .build(dup, &[])
        .unwrap_err()
        .to_string()
        .contains("appears twice"));
}

#[test]
fn lr_and_momentum_setters() {
    let mut opt = SgdConfig {
        momentum: 0.9,
        ..Default::default()
    }
    .build(net(), &[ParamGroupConfig::new(["*.bias"])])
    .unwrap();
    opt.set_lr(1, 0.5).unwrap();
    opt.set_momentum(0, 0.8).unwrap();
    assert_eq!(opt.lrs(), vec![1e-3, 0.5]);
    assert_eq!(opt.param_groups()[0].momentum, Some(0.8));
    assert!(matches!(
        opt.set_lr(2, 0.1),
        Err(OptimError::GroupIndex { index: 2, len: 2 })
    ));
    opt.set_lr_all(0.25).unwrap();
    assert_eq!(opt.lrs(), vec![0.25, 0.25]);
    let mut ada = AdagradConfig::default().build(net(), &[]).unwrap();
    assert!(matches!(
        ada.set_momentum(0, 0.9),
        Err(OptimError::Unsupported { .. })
    ));
}

#[test]
fn params_without_grad_are_skipped() {
    let ps = net();
    let mut opt = AdamConfig::default().build(ps.clone(), &[]).unwrap();
    ps[0]
        .1
        .set_grad(Some(Tensor::from_vec(vec![1.0f32, 1.0], &[2])));
    opt.step().unwrap();
    assert_ne!(ps[0].1.value().to_vec::<f32>(), vec![1.0, -1.0]);
    assert_eq!(ps[1].1.value().to_vec::<f32>(), vec![1.0, -1.0]);
    let st = opt.state_dict();
    assert_eq!(st.params.keys().collect::<Vec<_>>(), ["0.weight"]);
    opt.zero_grad();
    assert!(ps[0].1.grad().is_none());
    // a gradient of the wrong shape is an error naming the parameter
    ps[1]
        .1
        .set_grad(Some(Tensor::from_vec(vec![1.0f32; 3], &[3])));
    let e = opt.step().unwrap_err().to_string();
    assert!(
        e.starts_with("parameter `0.bias`: gradient shape [3]"),
        "{e}"
    );
}
