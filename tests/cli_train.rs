//! Runs `tuna train`, `eval`, `show` and `summary` on small experiments (iris, a 1000-digit
//! MNIST subset): the run folder's files and formats, `--set` overrides, `--resume` on a
//! finished run, and the error cases (every problem listed with its path, the missing data
//! file named, a diverging run stopped with its step), always with exit status 1 and never a
//! panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{ok, text};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tuna-cli-train-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tuna(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tuna"))
        .args(args)
        .current_dir(ROOT)
        .output()
        .unwrap()
}

fn failed(out: &Output) -> String {
    let (stdout, stderr) = text(out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit status 1\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// Trains iris for `epochs` epochs into `dir` (quietly), with extra arguments.
fn train_iris(dir: &Path, epochs: usize, extra: &[&str]) -> Output {
    let epochs = epochs.to_string();
    let mut args = vec![
        "train",
        "examples/configs/iris.toml",
        "--out",
        dir.to_str().unwrap(),
        "--epochs",
        &epochs,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    tuna(&args)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn train_writes_the_run_folder() {
    let run = temp_dir("folder").join("iris");
    let (stdout, stderr) = ok(&train_iris(&run, 3, &["--set", "optimizer.lr=0.05"]));
    assert_eq!(stderr, "", "--quiet prints no progress or notes");
    assert!(
        stdout.contains("test: test_accuracy"),
        "results on stdout: {stdout}"
    );
    assert!(
        stdout.ends_with(&format!("run folder {}\n", run.display())),
        "{stdout}"
    );

    // config.toml: the resolved experiment with the override applied, loadable again
    let config = read(&run.join("config.toml"));
    let parsed: toml::Table = toml::from_str(&config).unwrap();
    assert_eq!(parsed["optimizer"]["lr"].as_float(), Some(0.05), "{config}");
    assert_eq!(parsed["optimizer"]["type"].as_str(), Some("Adam"));
    assert_eq!(parsed["train"]["epochs"].as_integer(), Some(3));
    assert_eq!(
        parsed["loader"]["drop_last"].as_bool(),
        Some(false),
        "defaults filled in"
    );

    // metrics.jsonl: one flat JSON object per epoch
    let metrics = read(&run.join("metrics.jsonl"));
    let lines: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{metrics}");
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["epoch"], i + 1);
        for key in [
            "train_loss",
            "val_loss",
            "train_accuracy",
            "val_accuracy",
            "lr",
            "seconds",
        ] {
            assert!(line[key].is_number(), "epoch {}: no {key} in {line}", i + 1);
        }
        assert_eq!(line["lr"], 0.05);
    }

    // summary.json
    let summary: serde_json::Value =
        serde_json::from_str(&read(&run.join("summary.json"))).unwrap();
    assert_eq!(summary["name"], "iris");
    assert_eq!(summary["epochs_completed"], 3);
    assert_eq!(summary["epochs_planned"], 3);
    assert_eq!(summary["monitor"], "val_loss");
    assert!(summary["best_epoch"].is_u64());
    assert!(summary["final"]["val_loss"].is_number());
    assert!(summary["test"]["test_loss"].is_number());
    assert!(summary["test"]["test_accuracy"].is_number());
    assert_eq!(summary["parameters"], 131);

    // weights and checkpoints
    let weights = std::fs::read(run.join("model.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(weights[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&weights[8..8 + header_len]).unwrap();
    for key in ["0.weight", "0.bias", "2.weight", "2.bias"] {
        assert!(header.contains(&format!("\"{key}\"")), "{header}");
    }
    assert!(run.join("checkpoints/last.ckpt").is_file());
    assert!(run.join("checkpoints/best.ckpt").is_file());

    // an existing run folder is never overwritten
    let again = failed(&train_iris(&run, 3, &[]));
    assert!(again.contains("already holds a run"), "{again}");
}

#[test]
fn mnist_subset_trains_with_a_schedule() {
    let run = temp_dir("mnist").join("mlp");
    ok(&tuna(&[
        "train",
        "examples/configs/mnist-mlp.toml",
        "--out",
        run.to_str().unwrap(),
        "--set",
        "data.train_subset=1000",
        "--epochs",
        "2",
        "--quiet",
    ]));
    let lines: Vec<serde_json::Value> = read(&run.join("metrics.jsonl"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    // OneCycleLR over 2 epochs: the lr rises, then falls to max_lr / 25 / 1e4 at the end
    let lr: Vec<f64> = lines.iter().map(|l| l["lr"].as_f64().unwrap()).collect();
    assert!(lr[1] < lr[0] && lr[1] < 1e-4, "{lr:?}");
    let config = read(&run.join("config.toml"));
    assert!(config.contains("train_subset = 1000"), "{config}");
}

#[test]
fn invalid_config_lists_every_problem_with_its_path() {
    let dir = temp_dir("invalid");
    let config = dir.join("bad.toml");
    std::fs::write(
        &config,
        r#"
[data]
type = "Csv"
path = "datasets/iris/iris.csv"
label = 4

[loader]
batch_size = 0

[model]
type = "Sequential"
layers = [
  { type = "Linear", in_features = 4, out_features = 3, bias_init = 0.0 },
]

[loss]
type = "CrossEntropyLoss"

[optimizer]
type = "SGD"
lr = -1

[optimiser]
lr = 0.1
"#,
    )
    .unwrap();
    let out_dir = dir.join("run");
    let out = tuna(&[
        "train",
        config.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let err = failed(&out);
    assert!(
        err.contains(config.to_str().unwrap()),
        "names the file: {err}"
    );
    assert!(err.contains("4 problems"), "{err}");
    for expected in [
        "optimizer.lr",
        "-1",
        "model.layers[0]",
        "bias_init",
        "loader.batch_size",
        "optimiser: unknown section",
    ] {
        assert!(err.contains(expected), "`{expected}` missing from:\n{err}");
    }
    assert!(!out_dir.exists(), "no run folder for an invalid experiment");

    // a bad override is reported the same way
    let err = failed(&tuna(&[
        "train",
        "examples/configs/iris.toml",
        "--out",
        out_dir.to_str().unwrap(),
        "--set",
        "model.layers[9].p=0.3",
        "--set",
        "optimizer.betas=[0.9, 1.5]",
    ]));
    assert!(err.contains("iris.toml"), "{err}");
    assert!(
        err.contains("model.layers[9]") && err.contains("past the end"),
        "{err}"
    );
    assert!(
        err.contains("optimizer.betas[1]"),
        "the file is checked too: {err}"
    );
    assert!(!out_dir.exists());
}

#[test]
fn missing_data_file_is_named() {
    let dir = temp_dir("missing");
    let config = dir.join("missing.toml");
    let iris = read(&Path::new(ROOT).join("examples/configs/iris.toml"));
    std::fs::write(
        &config,
        iris.replace("datasets/iris/iris.csv", "datasets/no-such/flowers.csv"),
    )
    .unwrap();
    let out_dir = dir.join("run");
    let err = failed(&tuna(&[
        "train",
        config.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]));
    assert!(err.contains("datasets/no-such/flowers.csv"), "{err}");
    assert!(
        !out_dir.exists(),
        "no run folder when the data cannot be loaded"
    );
}

#[test]
fn eval_show_and_summary() {
    let dir = temp_dir("eval");
    let (a, b) = (dir.join("a"), dir.join("b"));
    ok(&train_iris(&a, 2, &[]));
    ok(&train_iris(&b, 4, &["--set", "optimizer.lr=0.02"]));

    let (stdout, _) = ok(&tuna(&["eval", a.to_str().unwrap()]));
    assert!(
        stdout.contains("30 samples (test split, final weights)"),
        "{stdout}"
    );
    assert!(stdout.lines().any(|l| l.starts_with("loss ")), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("accuracy ")),
        "{stdout}"
    );
    let (stdout, _) = ok(&tuna(&[
        "eval",
        a.to_str().unwrap(),
        "--split",
        "val",
        "--weights",
        "last",
    ]));
    assert!(stdout.contains("(val split, last weights)"), "{stdout}");
    let err = failed(&tuna(&["eval", dir.to_str().unwrap()]));
    assert!(err.contains("not a Tuna run folder"), "{err}");

    let (stdout, _) = ok(&tuna(&["show", a.to_str().unwrap(), b.to_str().unwrap()]));
    let header = stdout.lines().next().unwrap();
    assert!(
        header.contains(a.to_str().unwrap()) && header.contains(b.to_str().unwrap()),
        "{stdout}"
    );
    let epochs = stdout.lines().find(|l| l.starts_with("epochs")).unwrap();
    assert!(epochs.contains("2/2") && epochs.contains("4/4"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("test_accuracy")),
        "{stdout}"
    );

    let (stdout, _) = ok(&tuna(&["summary", "examples/configs/iris.toml"]));
    for expected in ["Sequential", "Linear: 1-1", "[1, 16]", "Total params: 131"] {
        assert!(
            stdout.contains(expected),
            "`{expected}` missing from:\n{stdout}"
        );
    }
    let (stdout, _) = ok(&tuna(&[
        "summary",
        "examples/configs/mnist-cnn.toml",
        "--batch",
        "64",
    ]));
    assert!(
        stdout.contains("[64, 16, 28, 28]") && stdout.contains("215,370"),
        "{stdout}"
    );
}

#[test]
fn resume_of_a_finished_run_changes_nothing() {
    let run = temp_dir("resume").join("iris");
    ok(&train_iris(&run, 3, &[]));
    let files = [
        "metrics.jsonl",
        "summary.json",
        "config.toml",
        "model.safetensors",
    ];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(run.join(f)).unwrap())
        .collect();
    let (_, stderr) = ok(&tuna(&["train", "--resume", run.to_str().unwrap()]));
    assert!(
        stderr.contains("nothing to resume") && stderr.contains("3/3 epochs"),
        "{stderr}"
    );
    let after: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(run.join(f)).unwrap())
        .collect();
    assert!(before == after, "a finished run's files are left unchanged");

    // a run stopped by early stopping whose summary is missing (killed while finishing)
    // finishes without training another epoch
    let run = temp_dir("resume-early").join("iris");
    ok(&train_iris(
        &run,
        100,
        &["--set", "train.early_stopping.patience=2"],
    ));
    let epochs = read(&run.join("metrics.jsonl")).lines().count();
    assert!(epochs < 100, "early stopping should have fired");
    std::fs::remove_file(run.join("summary.json")).unwrap();
    ok(&tuna(&[
        "train",
        "--resume",
        run.to_str().unwrap(),
        "--quiet",
    ]));
    assert_eq!(read(&run.join("metrics.jsonl")).lines().count(), epochs);
    let summary: serde_json::Value =
        serde_json::from_str(&read(&run.join("summary.json"))).unwrap();
    assert_eq!(summary["epochs_completed"], epochs);
    assert!(summary["stopped_early"]
        .as_str()
        .unwrap()
        .contains("early stopping"));
}

#[test]
fn diverging_run_stops_naming_the_step() {
    let dir = temp_dir("diverge");
    let run = dir.join("mlp");
    let out = tuna(&[
        "train",
        "examples/configs/mnist-mlp.toml",
        "--out",
        run.to_str().unwrap(),
        "--set",
        "data.train_subset=1000",
        "--set",
        "scheduler.max_lr=1e6",
        "--epochs",
        "2",
        "--quiet",
    ]);
    let err = failed(&out);
    assert!(err.contains("became"), "{err}");
    assert!(
        err.contains("epoch 1, batch") && err.contains("(step "),
        "{err}"
    );
    assert!(err.contains("keeps everything written"), "{err}");
    assert!(err.contains(run.to_str().unwrap()), "{err}");
    assert!(run.join("config.toml").is_file());
    assert!(!run.join("summary.json").exists());

    // the same without a schedule: optimizer.lr is the learning rate
    let run = dir.join("iris");
    let err = failed(&train_iris(
        &run,
        5,
        &["--set", "optimizer.type=SGD", "--set", "optimizer.lr=1e6"],
    ));
    assert!(
        err.contains("epoch 1, batch") && err.contains("optimizer.lr"),
        "{err}"
    );
}
