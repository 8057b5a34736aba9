//! The typetag registry: every built-in loss round-trips through JSON and TOML under its
//! PyTorch name, tags are unique, and an unknown `type` is an error listing the known ones.

use std::collections::BTreeSet;

use tuna_loss::{builtin_losses, Loss};

const EXPECTED: &[&str] = &[
    "BCELoss",
    "BCEWithLogitsLoss",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "FocalLoss",
    "GaussianNLLLoss",
    "HingeEmbeddingLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "LinearCrossEntropyLoss",
    "MSELoss",
    "MarginRankingLoss",
    "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss",
    "MultiMarginLoss",
    "NLLLoss",
    "PoissonNLLLoss",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "TripletMarginLoss",
    "TripletMarginWithDistanceLoss",
];

#[test]
fn every_builtin_round_trips_with_a_unique_tag() {
    tuna_loss::link();
    let mut tags = BTreeSet::new();
    for loss in builtin_losses() {
        loss.validate().unwrap();
        let json = serde_json::to_value(&loss).unwrap();
        let tag = json["type"].as_str().unwrap().to_string();
        assert_eq!(tag, loss.name(), "serde tag and name() agree");
        assert!(tags.insert(tag.clone()), "duplicate tag {tag}");
        let back: Box<dyn Loss> = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
        let text = toml::to_string(&loss).unwrap();
        let back: Box<dyn Loss> = toml::from_str(&text).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), json, "TOML {text}");
        // a config with only the tag gives PyTorch's defaults (except required sizes)
        if tag != "LinearCrossEntropyLoss" {
            let bare: Box<dyn Loss> =
                serde_json::from_value(serde_json::json!({ "type": tag })).unwrap();
            assert_eq!(
                serde_json::to_value(&bare).unwrap(),
                json,
                "defaults of {tag}"
            );
        }
        // cloning a boxed loss keeps its config
        let cloned = dyn_clone::clone_box(&*loss);
        assert_eq!(serde_json::to_value(&cloned).unwrap(), json);
    }
    let expected: BTreeSet<String> = EXPECTED.iter().map(|s| s.to_string()).collect();
    assert_eq!(tags, expected);
}

#[test]
fn unknown_type_lists_known_types() {
    tuna_loss::link();
    let err = serde_json::from_str::<Box<dyn Loss>>(r#"{"type": "MseLoss"}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown variant `MseLoss`"), "{err}");
    for tag in EXPECTED {
        assert!(err.contains(tag), "{tag} missing from: {err}");
    }
}

#[test]
fn unknown_fields_are_rejected() {
    tuna_loss::link();
    let err = serde_json::from_str::<Box<dyn Loss>>(
        r#"{"type": "CrossEntropyLoss", "label_smothing": 0.1}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("unknown field `label_smothing`"), "{err}");
    assert!(
        err.contains("label_smoothing"),
        "lists the allowed fields: {err}"
    );
}

#[test]
fn toml_experiment_section() {
    tuna_loss::link();
    #[derive(serde::Deserialize)]
    struct Experiment {
        loss: Box<dyn Loss>,
    }
    let e: Experiment = toml::from_str(
        "[loss]\ntype = \"CrossEntropyLoss\"\nlabel_smoothing = 0.1\nweight = [1.0, 2.0, 0.5]\n",
    )
    .unwrap();
    assert_eq!(e.loss.name(), "CrossEntropyLoss");
    e.loss.validate().unwrap();
}
