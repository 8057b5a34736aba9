//! `tuna diagnose RUN --apply OUT.toml` and `tuna fix CONFIG --budget N` run the way a user
//! runs them: the binary, started from a working directory that is neither the repository nor
//! the experiment's folder, on an iris experiment whose data path is relative to its file.

mod common;

use std::path::{Path, PathBuf};

use common::{scratch, tuna};

/// `root/exp/iris.toml` (with a comment to keep) and its data in `root/exp/data/`; SGD at the
/// given lr.
fn iris_experiment(root: &Path, lr: f64) -> PathBuf {
    let exp = root.join("exp");
    std::fs::create_dir_all(exp.join("data")).unwrap();
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/iris/iris.csv");
    std::fs::copy(csv, exp.join("data/iris.csv")).unwrap();
    let text = format!(
        r#"# iris for the diagnose CLI tests: keep this comment
seed = 0

[data]
type = "Csv"
path = "data/iris.csv"   # relative to this file
header = false
skip_rows = 1
label = 4
validation = 0.2
test = 0.0
stratified = true
standardize = true

[loader]
batch_size = 16
shuffle = true

[model]
type = "Sequential"
layers = [
  {{ type = "Linear", in_features = 4, out_features = 16 }},
  {{ type = "ReLU" }},
  {{ type = "Linear", in_features = 16, out_features = 3 }},
]

[loss]
type = "CrossEntropyLoss"

[optimizer]
type = "SGD"
lr = {lr:?}   # the learning rate
momentum = 0.9

[train]
epochs = 8
metrics = ["accuracy"]
"#
    );
    let path = exp.join("iris.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn work_dir(root: &Path) -> PathBuf {
    let w = root.join("elsewhere");
    std::fs::create_dir_all(&w).unwrap();
    w
}

fn run_ok(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed:\n{}\n{}",
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn lr_of(toml_text: &str) -> f64 {
    let v: toml::Value = toml::from_str(toml_text).unwrap();
    v["optimizer"]["lr"].as_float().unwrap()
}

#[test]
fn diagnose_apply_writes_the_experiment_with_the_primary_remedy() {
    let root = scratch("diagcli", "apply");
    let config = iris_experiment(&root, 0.05);
    let work = work_dir(&root);
    // The run raises the lr far too high with --set; the report must lower it from there.
    // The run stops on a NaN loss (exit code 1); the folder holds what the report needs.
    let hot = tuna()
        .current_dir(&work)
        .arg("train")
        .arg(&config)
        .args([
            "--out",
            "runs/hot",
            "--quiet",
            "--set",
            "optimizer.lr=200.0",
        ])
        .output()
        .unwrap();
    assert_eq!(hot.status.code(), Some(1));
    let report = run_ok(tuna().current_dir(&work).args(["diagnose", "runs/hot"]));
    assert!(report.starts_with("[severe] cause lr_too_high"), "{report}");
    let out = root.join("fixed/iris-fixed.toml");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let status = tuna()
        .current_dir(&work)
        .args(["diagnose", "runs/hot", "--apply"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("# iris for the diagnose CLI tests: keep this comment"));
    assert!(text.contains("# the learning rate"), "{text}");
    let lr = lr_of(&text);
    assert!((1.0..200.0).contains(&lr), "lr {lr}:\n{text}");
    // The data path was made absolute: the file lives in another folder than the experiment.
    let v: toml::Value = toml::from_str(&text).unwrap();
    let data = v["data"]["path"].as_str().unwrap();
    assert!(Path::new(data).is_absolute(), "{data}");
    // The written experiment trains, from yet another folder.
    run_ok(tuna().current_dir(&root).arg("train").arg(&out).args([
        "--out",
        "runs/fixed",
        "--quiet",
        "--epochs",
        "1",
    ]));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn fix_loop_lowers_a_diverging_lr_until_the_run_trains() {
    let root = scratch("diagcli", "fix");
    let config = iris_experiment(&root, 200.0);
    let before = std::fs::read_to_string(&config).unwrap();
    let work = work_dir(&root);
    let stdout = run_ok(tuna().current_dir(&work).arg("fix").arg(&config).args([
        "--budget",
        "4",
        "--out",
        "fixes/iris",
        "--epochs",
        "8",
    ]));
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert!(rows.len() >= 2, "{stdout}");
    assert!(rows[0].contains("lr_too_high"), "{stdout}");
    assert!(rows[1].contains("--set optimizer.lr="), "{stdout}");
    // The experiment itself is untouched; the result is fixes/iris/fixed.toml.
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
    let fixed = work.join("fixes/iris/fixed.toml");
    let text = std::fs::read_to_string(&fixed).unwrap();
    assert!(text.contains("# the learning rate"), "{text}");
    assert!(lr_of(&text) < 200.0);
    let result = stdout
        .lines()
        .find(|l| l.starts_with("result: round"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(!result.starts_with("result: round 0 "), "{stdout}");
    // The kept round trains without diverging.
    run_ok(tuna().current_dir(&root).arg("train").arg(&fixed).args([
        "--out",
        "runs/fixed",
        "--quiet",
        "--epochs",
        "2",
    ]));
    // A second fix into the same, non-empty folder is refused.
    let again = tuna()
        .current_dir(&work)
        .arg("fix")
        .arg(&config)
        .args(["--out", "fixes/iris"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
    let _ = std::fs::remove_dir_all(&root);
}
