//! The typetag registry of layer configs: one instance of every built-in layer round-trips
//! through JSON and TOML under its PyTorch name (or its descriptive name where PyTorch has
//! none), tags are unique, and the list below is every registered tag, so a new layer must
//! join it.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use tuna_nn::{Initializer, LayerConfig};

/// One config of every built-in layer config, with non-default options where there are some.
fn instances() -> Vec<Value> {
    let enc = json!({"d_model": 8, "nhead": 2, "dim_feedforward": 16, "dropout": 0.0, "batch_first": true});
    vec![
        json!({"type": "AdaptiveAvgPool2d", "output_size": [2, 3]}),
        json!({"type": "AvgPool2d", "kernel_size": 2, "stride": 1, "padding": 1}),
        json!({"type": "BatchNorm1d", "num_features": 4, "momentum": 0.2}),
        json!({"type": "BatchNorm2d", "num_features": 3}),
        json!({"type": "Bilinear", "in1_features": 2, "in2_features": 3, "out_features": 4}),
        json!({"type": "Conv1d", "in_channels": 2, "out_channels": 3, "kernel_size": 3}),
        json!({"type": "Conv2d", "in_channels": 1, "out_channels": 8, "kernel_size": 5}),
        json!({"type": "ConvTranspose2d", "in_channels": 4, "out_channels": 2, "kernel_size": 3, "stride": 2}),
        json!({"type": "Dropout", "p": 0.2}),
        json!({"type": "Dropout2d", "p": 0.3}),
        json!({"type": "ELU", "alpha": 0.5}),
        json!({"type": "Embedding", "num_embeddings": 100, "embedding_dim": 16, "padding_idx": 0}),
        json!({"type": "Flatten", "start_dim": 1, "end_dim": -1}),
        json!({"type": "GELU", "approximate": "tanh"}),
        json!({"type": "GRU", "input_size": 3, "hidden_size": 4, "batch_first": true}),
        json!({"type": "GroupNorm", "num_groups": 2, "num_channels": 4}),
        json!({"type": "Identity"}),
        json!({"type": "LSTM", "input_size": 3, "hidden_size": 4, "bidirectional": true}),
        json!({"type": "LayerNorm", "normalized_shape": [8]}),
        json!({"type": "LeakyReLU", "negative_slope": 0.1}),
        json!({"type": "Linear", "in_features": 4, "out_features": 2}),
        json!({"type": "LogSoftmax", "dim": 1}),
        json!({"type": "MaxPool2d", "kernel_size": 2}),
        json!({"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2, "batch_first": true, "causal": true}),
        json!({"type": "PositionalEmbedding", "embedding_dim": 8, "max_len": 32, "kind": "sinusoidal", "dropout": 0.1}),
        json!({"type": "RNN", "input_size": 3, "hidden_size": 4, "nonlinearity": "relu"}),
        json!({"type": "ReLU"}),
        json!({"type": "Residual", "layers": [{"type": "Linear", "in_features": 4, "out_features": 4}]}),
        json!({"type": "SequencePool", "mode": "last", "bidirectional": true}),
        json!({"type": "Sequential", "layers": [{"type": "Linear", "in_features": 4, "out_features": 4}, {"type": "ReLU"}]}),
        json!({"type": "SiLU"}),
        json!({"type": "Sigmoid"}),
        json!({"type": "Softmax", "dim": -1}),
        json!({"type": "Softplus", "beta": 2.0}),
        json!({"type": "Tanh"}),
        json!({"type": "TransformerEncoder", "encoder_layer": enc, "num_layers": 2, "causal": true}),
        json!({"type": "TransformerEncoderLayer", "d_model": 8, "nhead": 2, "norm_first": true}),
        json!({"type": "Unflatten", "dim": 1, "unflattened_size": [2, 2]}),
    ]
}

/// Every tag typetag knows, read from its "unknown variant" error.
fn registered_tags() -> BTreeSet<String> {
    let err = serde_json::from_value::<Box<dyn LayerConfig>>(json!({"type": "NoSuchLayer"}))
        .unwrap_err()
        .to_string();
    let list = err
        .split("expected one of ")
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected error: {err}"));
    list.split(", ")
        .map(|t| t.trim_matches(|c: char| c == '`' || c.is_whitespace()))
        .map(|t| t.split('`').next().unwrap().to_string())
        .collect()
}

#[test]
fn every_builtin_layer_round_trips_with_a_unique_tag() {
    tuna_nn::link();
    let mut tags = BTreeSet::new();
    for config in instances() {
        let spec: Box<dyn LayerConfig> =
            serde_json::from_value(config.clone()).unwrap_or_else(|e| panic!("{config}: {e}"));
        spec.validate().unwrap_or_else(|e| panic!("{config}: {e}"));
        let json = serde_json::to_value(&spec).unwrap();
        let tag = json["type"].as_str().unwrap().to_string();
        assert_eq!(Some(tag.as_str()), config["type"].as_str());
        assert_eq!(spec.name(), tag, "name() is the tag");
        assert!(tags.insert(tag.clone()), "duplicate instance for {tag}");
        // every given option survives (nested layers get their defaults written out; an
        // int where PyTorch takes an int or a tuple is written as the tuple)
        for (k, v) in config.as_object().unwrap() {
            match (&json[k], v) {
                _ if k == "layers" || k == "encoder_layer" => {}
                (Value::Array(a), Value::Number(_)) => {
                    assert!(a.iter().all(|x| x == v), "{tag}.{k}")
                }
                (got, _) => assert_eq!(got, v, "{tag}.{k}"),
            }
        }
        let back: Box<dyn LayerConfig> = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), json, "{tag} JSON");
        let text = toml::to_string(&spec).unwrap();
        let back: Box<dyn LayerConfig> =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{tag} TOML {text}: {e}"));
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            json,
            "{tag} TOML {text}"
        );
        let cloned = dyn_clone::clone_box(&*spec);
        assert_eq!(serde_json::to_value(&cloned).unwrap(), json);
    }
    assert_eq!(tags, registered_tags(), "one instance per registered tag");
}

#[test]
fn unknown_fields_are_rejected() {
    tuna_nn::link();
    let e = serde_json::from_value::<Box<dyn LayerConfig>>(
        json!({"type": "SequencePool", "mode": "mean", "lengths": [1]}),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("unknown field `lengths`"), "{e}");
}

/// One instance of every built-in initializer, each with a non-default argument.
fn initializer_instances() -> Vec<Value> {
    vec![
        json!({"type": "Uniform", "a": -0.5, "b": 0.5}),
        json!({"type": "Normal", "std": 0.02}),
        json!({"type": "Constant", "val": 0.1, "params": ["*bias"]}),
        json!({"type": "Zeros", "params": ["*bias"]}),
        json!({"type": "Ones", "exclude": ["0.*"]}),
        json!({"type": "Eye"}),
        json!({"type": "XavierUniform", "gain": 1.5}),
        json!({"type": "XavierNormal", "gain": 0.5}),
        json!({"type": "KaimingUniform", "nonlinearity": "relu"}),
        json!({"type": "KaimingNormal", "mode": "fan_out"}),
        json!({"type": "TruncNormal", "std": 0.02, "a": -0.04, "b": 0.04}),
        json!({"type": "Orthogonal", "gain": 1.2, "params": ["*weight_hh*"]}),
    ]
}

#[test]
fn every_builtin_initializer_round_trips_with_its_tag_as_name() {
    tuna_nn::link();
    let mut tags = BTreeSet::new();
    for config in initializer_instances() {
        let init: Box<dyn Initializer> =
            serde_json::from_value(config.clone()).unwrap_or_else(|e| panic!("{config}: {e}"));
        init.validate().unwrap_or_else(|e| panic!("{config}: {e}"));
        let json = serde_json::to_value(&init).unwrap();
        let tag = json["type"].as_str().unwrap().to_string();
        assert_eq!(init.name(), tag, "name() is the tag");
        for (k, v) in config.as_object().unwrap() {
            assert_eq!(&json[k], v, "{tag}.{k}");
        }
        let text = toml::to_string(&init).unwrap();
        let back: Box<dyn Initializer> = toml::from_str(&text).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), json, "{tag} TOML");
        tags.insert(tag);
    }
    let err = serde_json::from_value::<Box<dyn Initializer>>(json!({"type": "Nope"}))
        .unwrap_err()
        .to_string();
    let listed = err
        .split("expected one of ")
        .nth(1)
        .unwrap()
        .split(", ")
        .count();
    assert_eq!(tags.len(), listed, "one instance per registered tag: {err}");
}
