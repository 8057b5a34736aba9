//! The sampler and pruner plugin registries: every built-in type round-trips by its tag (the
//! Optuna class name), tags are unique, and an unknown type lists the known ones.

use std::collections::HashSet;

use tuna_tune::*;

fn samplers() -> Vec<Box<dyn Sampler>> {
    vec![
        Box::new(RandomSampler::default()),
        Box::new(GridSampler::default()),
        Box::new(TpeSampler::default()),
    ]
}

fn pruners() -> Vec<Box<dyn Pruner>> {
    vec![
        Box::new(NopPruner::default()),
        Box::new(MedianPruner::default()),
        Box::new(SuccessiveHalvingPruner::default()),
        Box::new(HyperbandPruner::default()),
    ]
}

/// Round-trips `value` through JSON and TOML as a `Box<dyn T>`; returns its tag.
fn round_trip<T>(value: &T) -> String
where
    T: serde::Serialize + ?Sized,
    Box<T>: serde::de::DeserializeOwned + serde::Serialize,
{
    let json = serde_json::to_value(value).unwrap();
    let tag = json["type"].as_str().unwrap().to_string();
    let back: Box<T> = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), json);
    let text = toml::to_string(value).unwrap();
    let back: Box<T> = toml::from_str(&text).unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), json, "{text}");
    tag
}

#[test]
fn every_builtin_sampler_round_trips_and_tags_are_unique() {
    link();
    let mut tags = HashSet::new();
    for s in samplers() {
        s.validate().unwrap();
        let tag = round_trip(s.as_ref());
        assert_eq!(s.name(), tag, "name() is the tag");
        assert!(tags.insert(tag.clone()), "duplicate tag {tag}");
    }
    assert_eq!(
        tags,
        HashSet::from(["RandomSampler", "GridSampler", "TPESampler"].map(String::from))
    );
}

#[test]
fn every_builtin_pruner_round_trips_and_tags_are_unique() {
    link();
    let mut tags = HashSet::new();
    for p in pruners() {
        p.validate().unwrap();
        let tag = round_trip(p.as_ref());
        assert_eq!(p.name(), tag, "name() is the tag");
        assert!(tags.insert(tag.clone()), "duplicate tag {tag}");
    }
    let expected = [
        "NopPruner",
        "MedianPruner",
        "SuccessiveHalvingPruner",
        "HyperbandPruner",
    ];
    assert_eq!(tags, HashSet::from(expected.map(String::from)));
}

#[test]
fn arguments_are_read_by_name_and_unknown_ones_rejected() {
    let s: Box<dyn Sampler> =
        serde_json::from_str(r#"{"type": "TPESampler", "n_startup_trials": 3}"#).unwrap();
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["n_startup_trials"], 3);
    assert_eq!(json["n_ei_candidates"], 24, "Optuna's default");
    let e = serde_json::from_str::<Box<dyn Pruner>>(r#"{"type": "MedianPruner", "warmup": 2}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `warmup`"), "{e}");
}

#[test]
fn an_unknown_type_lists_the_known_ones() {
    let e = serde_json::from_str::<Box<dyn Sampler>>(r#"{"type": "TPE"}"#)
        .unwrap_err()
        .to_string();
    for known in ["RandomSampler", "GridSampler", "TPESampler"] {
        assert!(e.contains(&format!("`{known}`")), "{e}");
    }
    assert!(!e.contains("Some("), "{e}");
    let e = serde_json::from_str::<Box<dyn Pruner>>(r#"{"type": "ASHA"}"#)
        .unwrap_err()
        .to_string();
    for known in [
        "NopPruner",
        "MedianPruner",
        "SuccessiveHalvingPruner",
        "HyperbandPruner",
    ] {
        assert!(e.contains(&format!("`{known}`")), "{e}");
    }
}

#[test]
fn a_grid_limits_the_study_and_other_samplers_do_not() {
    let space = [ParamSpec {
        name: "x".into(),
        distribution: Distribution::Choice { n: 3 },
        condition: None,
    }];
    assert_eq!(GridSampler::default().trial_limit(&space), Some(3));
    assert_eq!(TpeSampler::default().trial_limit(&space), None);
    assert_eq!(RandomSampler::default().trial_limit(&space), None);
}
