//! Planted problems trained on the bundled MNIST: `tuna diagnose --json` must name them.

use std::path::{Path, PathBuf};
use std::process::Command;

use tuna::train::diagnose::toml_value;
use tuna::train::experiment::Experiment;

fn tuna() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tuna"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tuna-planted-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn mlp(hidden: &[usize], activation: &str) -> String {
    let mut layers = vec!["{ type = \"Flatten\" }".to_string()];
    let mut input = 784;
    for h in hidden {
        layers.push(format!(
            "{{ type = \"Linear\", in_features = {input}, out_features = {h} }}"
        ));
        layers.push(format!("{{ type = \"{activation}\" }}"));
        input = *h;
    }
    layers.push(format!(
        "{{ type = \"Linear\", in_features = {input}, out_features = 10 }}"
    ));
    layers.join(",\n  ")
}

fn config(subset: usize, validation: f64, layers: &str, optimizer: &str, epochs: usize) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/mnist-10k");
    format!(
        "seed = 0\n[data]\ntype = \"Mnist\"\npath = {path:?}\nvalidation = {validation}\ntrain_subset = {subset}\n\
         [loader]\nbatch_size = 32\nshuffle = true\n[model]\ntype = \"Sequential\"\nlayers = [\n  {layers}\n]\n\
         [loss]\ntype = \"CrossEntropyLoss\"\n[optimizer]\n{optimizer}\n[train]\nepochs = {epochs}\nmetrics = [\"accuracy\"]\ntest = false\n"
    )
}

/// Trains `config` (a path, or TOML text) and returns the diagnosis JSON and the human report.
fn train_and_diagnose(
    name: &str,
    config_text: Option<&str>,
    path: Option<&str>,
) -> (serde_json::Value, String) {
    let dir = scratch(name);
    let config = match (config_text, path) {
        (Some(text), _) => {
            let p = dir.join("config.toml");
            std::fs::write(&p, text).unwrap();
            p
        }
        (None, Some(p)) => PathBuf::from(p),
        _ => unreachable!(),
    };
    let run = dir.join("run");
    let out = tuna()
        .arg("train")
        .arg(&config)
        .arg("--out")
        .arg(&run)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(
        run.join("metrics.jsonl").is_file(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = tuna()
        .arg("diagnose")
        .arg(&run)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let human = tuna().arg("diagnose").arg(&run).output().unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    every_remedy_applies(name, &config, &value);
    let _ = std::fs::remove_dir_all(&dir);
    (value, String::from_utf8_lossy(&human.stdout).into_owned())
}

/// Every remedy of every finding, applied to the experiment as `--set` / `--unset`, gives a
/// valid experiment.
fn every_remedy_applies(name: &str, config: &Path, v: &serde_json::Value) {
    tuna::link_all();
    let findings = v["findings"].as_array().unwrap();
    let remedies = findings
        .iter()
        .flat_map(|f| f["remedies"].as_array().into_iter().flatten());
    for r in remedies {
        let (mut set, mut unset) = (Vec::new(), Vec::new());
        for c in r["changes"].as_array().unwrap() {
            let path = c["path"].as_str().unwrap();
            match c["op"].as_str().unwrap() {
                "set" => set.push(format!("{path}={}", toml_value(&c["value"]))),
                "unset" => unset.push(path.to_string()),
                op => panic!("{name}: unknown change {op}"),
            }
        }
        if let Err(e) = Experiment::load_edited(config, &set, &unset) {
            panic!("{name}: remedy {r} does not apply: {e}");
        }
    }
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

/// The report's primary finding (the root cause) is one of `primary`, and it names `want`
/// (as the primary finding or as a symptom under it).
fn check(name: &str, v: &serde_json::Value, human: &str, primary: &[&str], want: &str) {
    let got = ids(v);
    let lead = v["primary"].as_str().unwrap();
    assert!(
        primary.contains(&lead),
        "{name}: expected the cause {primary:?}, got {lead} ({got:?})\n{human}"
    );
    let symptoms: Vec<&str> = v["findings"][0]["explains"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(
        lead == want || symptoms.contains(&want),
        "{name}: {want} not named\n{human}"
    );
    assert!(!got.iter().any(|i| i == "healthy"), "{name}: {human}");
    assert!(human.starts_with('['), "{name}: {human}");
    assert!(
        human
            .lines()
            .next()
            .unwrap()
            .contains(&format!("cause {lead}: ")),
        "{name}: {human}"
    );
}

#[test]
fn planted_problems_are_diagnosed() {
    let sgd = "type = \"SGD\"\nlr = 0.05\nmomentum = 0.9";
    // Over-fitting: 300 training digits, a big MLP, no regularization, long constant lr.
    let text = config(
        300,
        0.3,
        &mlp(&[512, 256], "ReLU"),
        "type = \"Adam\"\nlr = 1e-3",
        30,
    );
    let (v, h) = train_and_diagnose("overfit", Some(&text), None);
    check("overfitting", &v, &h, &["overfitting"], "overfitting");
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "overfitting")
        .unwrap();
    assert!(f["marks"].as_array().unwrap().len() == 2, "{h}");

    // Divergence: lr = 10.
    let text = config(
        2000,
        0.1,
        &mlp(&[128], "ReLU"),
        "type = \"SGD\"\nlr = 10.0\nmomentum = 0.9",
        5,
    );
    let (v, h) = train_and_diagnose("diverge", Some(&text), None);
    check("divergence", &v, &h, &["lr_too_high"], "divergence");

    // lr too low: lr = 1e-6.
    let text = config(
        2000,
        0.1,
        &mlp(&[128], "ReLU"),
        "type = \"SGD\"\nlr = 1e-6",
        3,
    );
    let (v, h) = train_and_diagnose("lr-low", Some(&text), None);
    check("lr_too_low", &v, &h, &["lr_too_low"], "lr_too_low");

    // Vanishing gradients: 8 Linear + Sigmoid layers.
    let text = config(
        2000,
        0.1,
        &mlp(&[64; 7], "Sigmoid"),
        "type = \"SGD\"\nlr = 0.05",
        3,
    );
    let (v, h) = train_and_diagnose("sigmoid", Some(&text), None);
    check(
        "sigmoid",
        &v,
        &h,
        &["saturating_activations", "vanishing_gradients"],
        "saturating_activations",
    );

    // Under-fitting: 2 hidden units, 2 epochs.
    let text = config(2000, 0.1, &mlp(&[2], "ReLU"), sgd, 2);
    let (v, h) = train_and_diagnose("tiny", Some(&text), None);
    check(
        "tiny",
        &v,
        &h,
        &["training_too_short"],
        "training_too_short",
    );

    // The shipped MNIST MLP is healthy, or at worst mild.
    let (v, h) = train_and_diagnose("healthy", None, Some("examples/configs/mnist-mlp.toml"));
    for f in v["findings"].as_array().unwrap() {
        let s = f["severity"].as_str().unwrap();
        assert!(s == "info" || s == "mild", "mnist-mlp: {h}");
    }
}
