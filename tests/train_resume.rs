//! `tuna train` killed with SIGKILL at arbitrary moments and resumed with `--resume` ends with
//! weights byte-identical to an uninterrupted run of the same experiment (and the same
//! metrics history), and a finished run folder holds everything it should.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tuna() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tuna"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tuna-resume-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Everything that carries state across a checkpoint: dropout generators, SGD momentum,
/// a per-batch OneCycleLR, early stopping, shuffling, mid-epoch checkpoints.
fn write_config(dir: &Path) -> PathBuf {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/mnist-10k");
    let text = format!(
        r#"
name = "resume"
seed = 3

[data]
type = "Mnist"
path = "{}"
validation = 0.2
train_subset = 2000

[loader]
batch_size = 32
shuffle = true

[model]
type = "Sequential"
layers = [
  {{ type = "Flatten" }},
  {{ type = "Linear", in_features = 784, out_features = 64 }},
  {{ type = "ReLU" }},
  {{ type = "Dropout", p = 0.3 }},
  {{ type = "Linear", in_features = 64, out_features = 10 }},
]

[loss]
type = "CrossEntropyLoss"

[optimizer]
type = "SGD"
lr = 0.05
momentum = 0.9
weight_decay = 1e-4

[scheduler]
type = "OneCycleLR"
max_lr = 0.1

[[regularizers]]
type = "L1"
weight = 1e-6

[train]
epochs = 8
metrics = ["accuracy"]
checkpoint_every_batches = 7
early_stopping = {{ monitor = "val_loss", patience = 100 }}
"#,
        data.display().to_string().replace('\\', "/")
    );
    let path = dir.join("resume.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run_to_end(args: &[&str]) {
    let out = tuna().args(args).arg("--quiet").output().unwrap();
    assert!(
        out.status.success(),
        "tuna {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `tuna` and SIGKILLs it once `ready` holds (or it exits first).
fn kill_when(args: &[&str], ready: impl Fn() -> bool) -> bool {
    let mut child = tuna()
        .args(args)
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(120) {
        if child.try_wait().unwrap().is_some() {
            child.wait().unwrap();
            return false;
        }
        if ready() {
            child.kill().unwrap(); // SIGKILL on Unix: no handler, no cleanup
            child.wait().unwrap();
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    panic!("tuna did not reach the kill point in time");
}

fn epochs_written(run: &Path) -> usize {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn strip_seconds(text: &str) -> String {
    text.lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("seconds");
            v.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn sigkilled_runs_resume_to_bit_identical_weights() {
    let dir = scratch("kill");
    let config = write_config(&dir);
    let config = config.to_str().unwrap();

    let reference = dir.join("reference");
    run_to_end(&["train", config, "--out", reference.to_str().unwrap()]);

    let killed = dir.join("killed");
    let k = killed.to_str().unwrap();
    let ckpt = killed.join("checkpoints/last.ckpt");
    // Kill right after the first mid-epoch checkpoint appears ...
    let first = kill_when(&["train", config, "--out", k], || ckpt.exists());
    assert!(first, "the run finished before it could be killed");
    // ... then while resuming, once a later epoch has been logged (mid-epoch by then) ...
    let second = kill_when(&["train", "--resume", k], || epochs_written(&killed) >= 3);
    assert!(second, "the resumed run finished before it could be killed");
    // ... then let it finish.
    run_to_end(&["train", "--resume", k]);

    let a = std::fs::read(reference.join("model.safetensors")).unwrap();
    let b = std::fs::read(killed.join("model.safetensors")).unwrap();
    assert!(
        a == b,
        "resumed weights differ from the uninterrupted run's"
    );
    let ma = std::fs::read_to_string(reference.join("metrics.jsonl")).unwrap();
    let mb = std::fs::read_to_string(killed.join("metrics.jsonl")).unwrap();
    assert_eq!(strip_seconds(&ma), strip_seconds(&mb));
    assert_eq!(ma.lines().count(), 8);

    for f in [
        "config.toml",
        "metrics.jsonl",
        "summary.json",
        "model.safetensors",
        "checkpoints/last.ckpt",
        "checkpoints/best.ckpt",
        "curves.svg",
        "curves.png",
    ] {
        assert!(reference.join(f).is_file(), "missing {f}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reference.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["epochs_completed"], 8);
    assert!(summary["test"]["test_accuracy"].as_f64().unwrap() > 0.8);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_corrupt_checkpoint_is_refused_with_its_name() {
    let dir = scratch("corrupt");
    let config = write_config(&dir);
    let run = dir.join("run");
    run_to_end(&[
        "train",
        config.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--epochs",
        "1",
    ]);
    let ckpt = run.join("checkpoints/last.ckpt");
    let mut bytes = std::fs::read(&ckpt).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&ckpt, bytes).unwrap();
    // as if killed before it finished: a finished run (with summary.json) has nothing to resume
    std::fs::remove_file(run.join("summary.json")).unwrap();
    let out = tuna()
        .args(["train", "--resume", run.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("last.ckpt") && err.contains("checksum"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
