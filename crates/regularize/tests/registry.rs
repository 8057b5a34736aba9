//! Every built-in regularizer and constraint is registered with typetag, round-trips through
//! JSON and TOML, and has a unique tag; an unknown `type` lists the known ones.

use std::collections::HashSet;

use tuna_regularize::{Constraint, ElasticNet, MaxNorm, NonNeg, Regularizer, UnitNorm, L1, L2};

fn regularizers() -> Vec<Box<dyn Regularizer>> {
    vec![
        Box::new(L1::new(1e-5)),
        Box::new(L2::new(1e-4)),
        Box::new(ElasticNet::new(1e-5, 1e-4)),
    ]
}

fn constraints() -> Vec<Box<dyn Constraint>> {
    vec![
        Box::new(MaxNorm::new(3.0)),
        Box::new(UnitNorm::default()),
        Box::new(NonNeg::new()),
    ]
}

fn tag(json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["type"].as_str().unwrap().to_string()
}

#[test]
fn every_regularizer_round_trips_with_a_unique_tag() {
    tuna_regularize::link();
    let mut tags = HashSet::new();
    for r in regularizers() {
        r.validate().unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert!(tags.insert(tag(&json)), "duplicate tag in {json}");
        let back: Box<dyn Regularizer> = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        let toml_text = toml::to_string(&r).unwrap();
        let back: Box<dyn Regularizer> = toml::from_str(&toml_text).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        // clonable (the tuner clones configs)
        let c = dyn_clone::clone_box(&*r);
        assert_eq!(serde_json::to_string(&c).unwrap(), json);
    }
    assert_eq!(
        tags,
        HashSet::from(["L1".into(), "L2".into(), "ElasticNet".into()])
    );
}

#[test]
fn every_constraint_round_trips_with_a_unique_tag() {
    let mut tags = HashSet::new();
    for c in constraints() {
        c.validate().unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert!(tags.insert(tag(&json)), "duplicate tag in {json}");
        let back: Box<dyn Constraint> = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        let back: Box<dyn Constraint> = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        let cloned = c.clone();
        assert_eq!(serde_json::to_string(&cloned).unwrap(), json);
    }
    assert_eq!(
        tags,
        HashSet::from(["MaxNorm".into(), "UnitNorm".into(), "NonNeg".into()])
    );
}

#[test]
fn unknown_type_lists_known_types() {
    let e = serde_json::from_str::<Box<dyn Regularizer>>(r#"{"type":"L3","weight":0.1}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown variant `L3`"), "{e}");
    for t in ["L1", "L2", "ElasticNet"] {
        assert!(e.contains(&format!("`{t}`")), "{t} missing from: {e}");
    }
    let e = toml::from_str::<Box<dyn Constraint>>("type = \"MinNorm\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown variant `MinNorm`"), "{e}");
    for t in ["MaxNorm", "UnitNorm", "NonNeg"] {
        assert!(e.contains(&format!("`{t}`")), "{t} missing from: {e}");
    }
    // a regularizer tag is not a constraint
    let e = serde_json::from_str::<Box<dyn Constraint>>(r#"{"type":"L2"}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown variant `L2`"), "{e}");
    let e = serde_json::from_str::<Box<dyn Regularizer>>(r#"{"weight":0.1}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing field `type`"), "{e}");
}
