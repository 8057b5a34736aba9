//! The typetag registry: every built-in schedule round-trips by name, tags are unique, and an
//! unknown `type` is an error that lists the known ones.

use std::collections::BTreeSet;

use tuna_sched::{builtin_examples, LrSchedulerConfig};

const PYTORCH_NAMES: [&str; 13] = [
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "ChainedScheduler",
];

#[test]
fn every_builtin_round_trips_and_tags_are_unique() {
    tuna_sched::link();
    let mut tags = BTreeSet::new();
    for config in builtin_examples() {
        config
            .validate()
            .unwrap_or_else(|e| panic!("{config:?}: {e}"));
        config.build(&[0.1, 0.01]).unwrap();
        let json = serde_json::to_value(&config).unwrap();
        let tag = json["type"].as_str().unwrap().to_string();
        assert_eq!(config.name(), tag, "name() is the tag");
        assert_eq!(
            config.build(&[0.1]).unwrap().core().name,
            tag,
            "the state names it too"
        );
        let back: Box<dyn LrSchedulerConfig> = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), json, "{tag}");
        let toml_text = toml::to_string(&config).unwrap();
        let back: Box<dyn LrSchedulerConfig> = toml::from_str(&toml_text).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), json, "{tag} via TOML");
        assert!(tags.insert(tag.clone()), "duplicate tag {tag}");
    }
    let mut expected: BTreeSet<String> = PYTORCH_NAMES.iter().map(|s| s.to_string()).collect();
    expected.insert("LinearWarmup".into());
    assert_eq!(tags, expected);
}

#[test]
fn unknown_type_lists_the_known_ones() {
    let err =
        serde_json::from_str::<Box<dyn LrSchedulerConfig>>(r#"{"type": "CosineLR", "T_max": 3}"#)
            .unwrap_err()
            .to_string();
    assert!(err.contains("unknown variant `CosineLR`"), "{err}");
    assert!(err.contains("expected one of"), "{err}");
    for name in PYTORCH_NAMES.iter().chain(["LinearWarmup"].iter()) {
        assert!(
            err.contains(&format!("`{name}`")),
            "{name} missing from: {err}"
        );
    }
    let err = toml::from_str::<Box<dyn LrSchedulerConfig>>("type = \"CosineLR\"")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown variant `CosineLR`") && err.contains("`OneCycleLR`"),
        "{err}"
    );
    let err = serde_json::from_str::<Box<dyn LrSchedulerConfig>>(r#"{"T_max": 3}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing field `type`"), "{err}");
}

#[test]
fn toml_config_as_a_user_writes_it() {
    let config: Box<dyn LrSchedulerConfig> = toml::from_str(
        r#"
        type = "SequentialLR"
        milestones = [5]
        schedulers = [
          { type = "LinearLR", start_factor = 0.1, total_iters = 5 },
          { type = "CosineAnnealingLR", T_max = 95, eta_min = 1e-5 },
        ]
        "#,
    )
    .unwrap();
    let mut s = config.build(&[0.1]).unwrap();
    assert!((s.lrs()[0] - 0.01).abs() < 1e-15);
    for _ in 0..5 {
        s.step(None);
    }
    assert!((s.lrs()[0] - 0.1).abs() < 1e-15);
}
