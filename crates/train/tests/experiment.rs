//! The experiment file: value paths and `--set` overrides, the resolved form and its TOML
//! round trip, JSON files, every problem reported with its path, the scheduler's `interval`
//! defaults and `param_groups` inside `[optimizer]`.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tuna_train::experiment::{
    apply_override, get_path, parse_path, parse_text, set_path, to_toml, Experiment, PathStep,
    StepInterval, ValueError,
};

fn link() {
    tuna_nn::link();
    tuna_loss::link();
    tuna_optim::link();
    tuna_sched::link();
    tuna_regularize::link();
    tuna_data::link();
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn config(name: &str) -> PathBuf {
    root().join("examples/configs").join(name)
}

/// A valid experiment using most sections (nothing is loaded: data paths are not read).
const FULL: &str = r#"
name = "full"
description = "every section"
seed = 7

[data]
type = "Mnist"
path = "datasets/mnist-10k"
validation = 0.1

[loader]
batch_size = 32

[model]
type = "Sequential"
layers = [
  { type = "Flatten" },
  { type = "Linear", in_features = 784, out_features = 64 },
  { type = "ReLU" },
  { type = "Dropout", p = 0.1 },
  { type = "Linear", in_features = 64, out_features = 10 },
]

[loss]
type = "CrossEntropyLoss"
label_smoothing = 0.05

[optimizer]
type = "AdamW"
lr = 1e-3
betas = [0.9, 0.95]

[[optimizer.param_groups]]
params = ["*.bias"]
weight_decay = 0.0

[scheduler]
type = "ReduceLROnPlateau"
monitor = "val_accuracy"
mode = "max"

[[regularizers]]
type = "L1"
weight = 1e-5

[[constraints]]
type = "MaxNorm"
max_value = 3.0

[train]
epochs = 3
metrics = ["accuracy"]
clip_grad_norm = 1.0
early_stopping = { monitor = "val_loss", patience = 2 }
"#;

fn full() -> Value {
    parse_text(FULL, false).unwrap()
}

fn key(k: &str) -> PathStep {
    PathStep::Key(k.to_string())
}

#[test]
fn parse_path_keys_and_indices() {
    assert_eq!(
        parse_path("model.layers[7].p").unwrap(),
        vec![key("model"), key("layers"), PathStep::Index(7), key("p")]
    );
    assert_eq!(
        parse_path("optimizer.betas[1]").unwrap(),
        vec![key("optimizer"), key("betas"), PathStep::Index(1)]
    );
    assert_eq!(parse_path("seed").unwrap(), vec![key("seed")]);
    assert_eq!(
        parse_path("a[0][2]").unwrap(),
        vec![key("a"), PathStep::Index(0), PathStep::Index(2)]
    );
    for bad in ["", "a..b", ".a", "a.", "a[x]", "a[1", "a[0]b", "a[-1]"] {
        assert!(parse_path(bad).is_err(), "`{bad}` should be rejected");
    }
    let err = parse_path("model.layers[one]").unwrap_err().to_string();
    assert!(
        err.contains("model.layers[one]") && err.contains("`one`"),
        "{err}"
    );
}

#[test]
fn set_path_and_get_path() {
    let mut v = json!({ "optimizer": { "lr": 0.1, "betas": [0.9, 0.999] } });
    set_path(&mut v, "optimizer.betas[1]", json!(0.99)).unwrap();
    assert_eq!(v["optimizer"]["betas"], json!([0.9, 0.99]));
    // an index equal to the length appends
    set_path(&mut v, "optimizer.betas[2]", json!(0.5)).unwrap();
    assert_eq!(v["optimizer"]["betas"], json!([0.9, 0.99, 0.5]));
    // missing tables are created
    set_path(&mut v, "scheduler.type", json!("StepLR")).unwrap();
    assert_eq!(get_path(&v, "scheduler.type"), Some(&json!("StepLR")));
    assert_eq!(get_path(&v, "optimizer.betas[0]"), Some(&json!(0.9)));
    assert_eq!(get_path(&v, "optimizer.betas[9]"), None);
    assert_eq!(get_path(&v, "nothing.here"), None);

    let err = set_path(&mut v, "optimizer.betas[5]", json!(1))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("index 5 is past the end of a list of 3"),
        "{err}"
    );
    let err = set_path(&mut v, "optimizer.lr.x", json!(1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a table"), "{err}");
    let err = set_path(&mut v, "optimizer[0]", json!(1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a list"), "{err}");
}

#[test]
fn overrides_read_values_as_toml() {
    link();
    let mut v = full();
    apply_override(&mut v, "model.layers[3].p=0.3").unwrap();
    assert_eq!(v["model"]["layers"][3]["p"], json!(0.3));
    apply_override(&mut v, "optimizer.betas=[0.9, 0.99]").unwrap();
    assert_eq!(v["optimizer"]["betas"], json!([0.9, 0.99]));
    apply_override(&mut v, "optimizer.type=Adam").unwrap(); // not TOML: taken as a string
    assert_eq!(v["optimizer"]["type"], json!("Adam"));
    apply_override(&mut v, "optimizer.type = \"AdamW\"").unwrap(); // quoted, spaces trimmed
    assert_eq!(v["optimizer"]["type"], json!("AdamW"));
    apply_override(&mut v, "train.epochs=5").unwrap();
    assert_eq!(v["train"]["epochs"], json!(5));
    apply_override(&mut v, "loader.shuffle=false").unwrap();
    assert_eq!(v["loader"]["shuffle"], json!(false));
    apply_override(&mut v, "regularizers[1]={ type = \"L2\", weight = 1e-4 }").unwrap();
    assert_eq!(
        v["regularizers"][1],
        json!({ "type": "L2", "weight": 1e-4 })
    );

    let err = apply_override(&mut v, "model.layers[7].p=0.3")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model.layers[7].p") && err.contains("past the end"),
        "{err}"
    );
    assert!(matches!(
        apply_override(&mut v, "optimizer.lr"),
        Err(ValueError::Syntax(_))
    ));
    assert!(matches!(
        apply_override(&mut v, "model.layers[7].p=0.3"),
        Err(ValueError::Path(_))
    ));
    let err = apply_override(&mut v, "optimizer.lr")
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected KEY=VALUE"), "{err}");

    let exp = Experiment::from_value(v).unwrap();
    assert_eq!(exp.train.epochs, 5);
    assert_eq!(exp.regularizers.len(), 2);
    let r = exp.resolved();
    assert_eq!(r["optimizer"]["type"], "AdamW");
    assert_eq!(r["optimizer"]["betas"], json!([0.9, 0.99]));
    assert_eq!(r["model"]["layers"][3]["p"], json!(0.3));
}

#[test]
fn load_applies_overrides_and_names_the_run_after_the_file() {
    link();
    let exp = Experiment::load(
        &config("iris.toml"),
        &["optimizer.lr=0.5".into(), "train.epochs=2".into()],
    )
    .unwrap();
    assert_eq!(exp.name.as_deref(), Some("iris"));
    assert_eq!(exp.train.epochs, 2);
    assert_eq!(exp.resolved()["optimizer"]["lr"], json!(0.5));
    assert_eq!(exp.source["optimizer"]["lr"], json!(0.5));

    // a bad override and a bad value are both reported, with the file's name
    let err = Experiment::load(
        &config("iris.toml"),
        &["model.layers[9].p=0.1".into(), "optimizer.lr=-2".into()],
    )
    .unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    let text = err.to_string();
    assert!(text.contains("iris.toml: 2 problems"), "{text}");
    assert!(
        text.contains("model.layers[9]") && text.contains("optimizer.lr"),
        "{text}"
    );
}

#[test]
fn resolved_round_trips_through_toml() {
    link();
    let mut experiments: Vec<Experiment> = ["iris.toml", "mnist-mlp.toml", "mnist-cnn.toml"]
        .iter()
        .map(|f| Experiment::load(&config(f), &[]).unwrap())
        .collect();
    experiments.push(Experiment::from_toml_str(FULL).unwrap());
    for exp in experiments {
        let resolved = exp.resolved();
        let text = exp.to_toml_string();
        let again = Experiment::from_toml_str(&text)
            .unwrap_or_else(|e| panic!("{e}\nin the resolved TOML:\n{text}"));
        assert_eq!(again.resolved(), resolved, "{text}");
        // and once more: the resolved form is a fixed point
        assert_eq!(again.to_toml_string(), text);
        assert_eq!(to_toml(&resolved), text);
    }
}

#[test]
fn resolved_fills_in_defaults() {
    link();
    let exp = Experiment::from_toml_str(FULL).unwrap();
    let r = exp.resolved();
    assert_eq!(r["name"], "full");
    assert_eq!(r["description"], "every section");
    assert_eq!(r["seed"], 7);
    assert_eq!(r["optimizer"]["weight_decay"], json!(0.01)); // AdamW's default
    assert_eq!(
        r["optimizer"]["param_groups"][0]["params"],
        json!(["*.bias"])
    );
    assert_eq!(r["scheduler"]["interval"], "epoch");
    assert_eq!(r["scheduler"]["monitor"], "val_accuracy");
    assert_eq!(r["train"]["checkpoint_every"], 1);
    assert_eq!(r["train"]["clip_norm_type"], json!(2.0));
    assert_eq!(r["train"]["test"], true);
    assert_eq!(r["constraints"][0]["type"], "MaxNorm");
    assert_eq!(r["regularizers"][0]["type"], "L1");

    // a minimal file: seed 0, default loader, no scheduler, 10 epochs
    let exp = Experiment::from_toml_str(
        r#"
        [data]
        type = "Mnist"
        path = "x"
        [model]
        type = "Linear"
        in_features = 784
        out_features = 10
        [loss]
        type = "CrossEntropyLoss"
        [optimizer]
        type = "SGD"
        "#,
    )
    .unwrap();
    assert_eq!(exp.seed, 0);
    assert_eq!(exp.train.epochs, 10);
    assert!(exp.scheduler.is_none() && exp.regularizers.is_empty());
    let r = exp.resolved();
    assert!(r.get("scheduler").is_none() && r.get("name").is_none());
    assert_eq!(r["optimizer"]["lr"], json!(1e-3));
}

#[test]
fn json_experiment_files_are_accepted() {
    link();
    let toml_exp = Experiment::load(&config("iris.toml"), &[]).unwrap();
    let dir = std::env::temp_dir().join(format!("tuna-experiment-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("iris.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&toml_exp.source).unwrap(),
    )
    .unwrap();
    let json_exp = Experiment::load(&path, &["train.epochs=3".into()]).unwrap();
    assert_eq!(json_exp.name.as_deref(), Some("iris"));
    assert_eq!(json_exp.train.epochs, 3);
    let mut expected = toml_exp.resolved();
    expected["train"]["epochs"] = json!(3);
    assert_eq!(json_exp.resolved(), expected);

    // a JSON syntax error names the file and says JSON
    std::fs::write(&path, "{ \"seed\": 0, ").unwrap();
    let err = Experiment::load(&path, &[]).unwrap_err().to_string();
    assert!(
        err.contains("iris.json") && err.contains("invalid JSON"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_problem_is_reported_with_its_path() {
    link();
    let err = Experiment::from_toml_str(
        r#"
        seed = -1
        [data]
        type = "Mnist"
        path = "datasets/mnist-10k"
        validation = 1.5
        [loader]
        batch_size = 0
        [model]
        type = "Sequential"
        layers = [
          { type = "Linear", in_features = 784, out_features = 10, bias_init = 0 },
          { type = "Relu" },
          { type = "Dropout", p = 1.5 },
        ]
        [optimizer]
        type = "Adam"
        lr = -1
        [scheduler]
        type = "StepLR"
        step_size = 0
        interval = "minute"
        [[regularizers]]
        type = "L2"
        weight = -1
        [train]
        epochs = 0
        clip_grad_norm = -1
        [optimiser]
        lr = 0.1
        "#,
    )
    .unwrap_err();
    let all = err.problems.join("\n");
    for path in [
        "optimiser: unknown section",
        "seed:",
        "data.validation",
        "loader.batch_size",
        "model.layers[0]",
        "bias_init",
        "model.layers[1]",
        "Relu",
        "model.layers[2]",
        "optimizer.lr",
        "scheduler.step_size",
        "scheduler.interval",
        "regularizers[0].weight",
        "train.epochs",
        "train.clip_grad_norm",
        "loss: missing section `[loss]`",
    ] {
        assert!(all.contains(path), "`{path}` missing from:\n{all}");
    }
    // one line per problem, none of them repeated
    let mut unique = err.problems.clone();
    unique.dedup();
    assert_eq!(unique.len(), err.problems.len(), "{all}");
    assert_eq!(err.problems.len(), 14, "{all}");
    assert!(err.to_string().starts_with("experiment: "), "{err}");
}

#[test]
fn plugin_sections_need_a_type() {
    link();
    let err = Experiment::from_toml_str(
        r#"
        data = 3
        [model]
        in_features = 3
        [loss]
        type = "NoSuchLoss"
        [optimizer]
        type = "SGD"
        [[regularizers]]
        weight = 0.1
        [train]
        nope = 1
        "#,
    )
    .unwrap_err();
    let all = err.problems.join("\n");
    for expected in [
        "data: expected a table with a `type` key, got a number",
        "model: missing `type`",
        "loss.type: unknown variant `NoSuchLoss`",
        "regularizers[0]: missing `type`",
        "train.nope: unknown field `nope`",
    ] {
        assert!(all.contains(expected), "`{expected}` missing from:\n{all}");
    }
}

fn with_scheduler(section: &str) -> Result<Experiment, tuna_train::experiment::ExperimentError> {
    let mut v = full();
    v["scheduler"] = parse_text(section, false).unwrap();
    Experiment::from_value(v)
}

#[test]
fn scheduler_interval_default_depends_on_the_type() {
    link();
    for (section, interval) in [
        ("type = \"OneCycleLR\"\nmax_lr = 0.1", StepInterval::Batch),
        (
            "type = \"CyclicLR\"\nbase_lr = 0.001\nmax_lr = 0.1",
            StepInterval::Batch,
        ),
        ("type = \"StepLR\"\nstep_size = 2", StepInterval::Epoch),
        (
            "type = \"CosineAnnealingLR\"\nT_max = 10",
            StepInterval::Epoch,
        ),
        ("type = \"ReduceLROnPlateau\"", StepInterval::Epoch),
        (
            "type = \"StepLR\"\nstep_size = 100\ninterval = \"batch\"",
            StepInterval::Batch,
        ),
        (
            "type = \"OneCycleLR\"\nmax_lr = 0.1\ninterval = \"epoch\"",
            StepInterval::Epoch,
        ),
    ] {
        let exp = with_scheduler(section).unwrap_or_else(|e| panic!("{section}: {e}"));
        let s = exp.scheduler.as_ref().unwrap();
        assert_eq!(s.interval, interval, "{section}");
        let expected = match interval {
            StepInterval::Batch => "batch",
            StepInterval::Epoch => "epoch",
        };
        assert_eq!(exp.resolved()["scheduler"]["interval"], expected);
    }
    let exp =
        with_scheduler("type = \"ReduceLROnPlateau\"\nmonitor = \"val_accuracy\"\nmode = \"max\"")
            .unwrap();
    assert_eq!(
        exp.scheduler.unwrap().monitor.as_deref(),
        Some("val_accuracy")
    );

    let err = with_scheduler("type = \"StepLR\"\ninterval = 3\nmonitor = 1").unwrap_err();
    let all = err.problems.join("\n");
    assert!(
        all.contains("scheduler.interval: expected \"batch\" or \"epoch\""),
        "{all}"
    );
    assert!(all.contains("scheduler.monitor"), "{all}");
}

#[test]
fn param_groups_are_accepted_in_the_optimizer_section() {
    link();
    let exp = Experiment::from_toml_str(FULL).unwrap();
    assert_eq!(exp.optimizer.param_groups.len(), 1);
    let g = &exp.optimizer.param_groups[0];
    assert_eq!(g.params, vec!["*.bias".to_string()]);
    assert_eq!(g.overrides["weight_decay"], json!(0.0));

    // several groups, as inline tables too
    let mut v = full();
    v["optimizer"]["param_groups"] = json!([
        { "params": ["0.*"], "lr": 0.1 },
        { "params": ["*.bias"], "weight_decay": 0.0 },
    ]);
    let exp = Experiment::from_value(v).unwrap();
    assert_eq!(exp.optimizer.param_groups.len(), 2);
    assert_eq!(
        exp.resolved()["optimizer"]["param_groups"][0]["lr"],
        json!(0.1)
    );

    // a group without `params` is reported at its path
    let mut v = full();
    v["optimizer"]["param_groups"] = json!([{ "lr": 0.1 }]);
    let err = Experiment::from_value(v).unwrap_err();
    assert!(
        err.problems[0].starts_with("optimizer.param_groups:")
            && err.problems[0].contains("params"),
        "{err}"
    );
}
