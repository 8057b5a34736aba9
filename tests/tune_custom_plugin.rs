//! A user's own sampler and pruner (`examples/custom_plugin.rs`): registered with one typetag
//! line each, named by `type` in a search-space file, and used by a small study.

#[path = "../examples/custom_plugin.rs"]
#[allow(dead_code)] // its `main` and loss/optimizer parts belong to the other examples' test
mod custom_plugin;

#[test]
fn a_user_sampler_and_pruner_run_a_study_by_name() {
    let states = custom_plugin::run_study();
    assert_eq!(states.len(), 6, "{states:?}");
    use tuna::tune::TrialState::{Complete, Pruned};
    assert!(
        states.iter().all(|s| matches!(s, Complete | Pruned)),
        "{states:?}"
    );
    assert!(states.contains(&Complete), "{states:?}");
}

#[test]
fn a_user_plugin_is_listed_among_the_known_types() {
    tuna::link_all();
    let e = serde_json::from_str::<Box<dyn tuna::tune::Sampler>>(r#"{"type": "Halton"}"#)
        .unwrap_err()
        .to_string();
    for known in ["HaltonSampler", "TPESampler"] {
        assert!(e.contains(&format!("`{known}`")), "{e}");
    }
    let e = serde_json::from_str::<Box<dyn tuna::tune::Pruner>>(
        r#"{"type": "StagnationPruner", "patience": 0}"#,
    )
    .map(|p| p.validate().unwrap_err().to_string())
    .unwrap();
    assert!(
        e.contains("StagnationPruner.patience: must be at least 1"),
        "{e}"
    );
}
