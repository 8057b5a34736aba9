//! Helpers shared by the integration tests that run the `tuna` binary the way a user does.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `tuna` binary of this build.
pub fn tuna() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tuna"))
}

/// An empty scratch folder `<tmp>/tuna-<prefix>-<pid>-<name>`.
pub fn scratch(prefix: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tuna-{prefix}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `dir/base.toml`: a fast MNIST MLP (784-`width`-10, SGD) on `train_subset` digits
/// (a quarter held out for validation, no test split) trained for `epochs` epochs.
pub fn write_small_base(dir: &Path, train_subset: usize, width: usize, epochs: usize) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/mnist-10k");
    let base = format!(
        r#"
# a small MNIST MLP for the tests (this comment is kept in a study's best.toml)
seed = 0
[data]
type = "Mnist"
path = "{}"
validation = 0.25
train_subset = {train_subset}
test = false
[loader]
batch_size = 50
shuffle = true
[model]
type = "Sequential"
layers = [
  {{ type = "Flatten" }},
  {{ type = "Linear", in_features = 784, out_features = {width} }},
  {{ type = "ReLU" }},
  {{ type = "Linear", in_features = {width}, out_features = 10 }},
]
[loss]
type = "CrossEntropyLoss"
[optimizer]
type = "SGD"
lr = 0.05
momentum = 0.9
[train]
epochs = {epochs}
metrics = ["accuracy"]
"#,
        data.display().to_string().replace('\\', "/")
    );
    std::fs::write(dir.join("base.toml"), base).unwrap();
}

/// A finished command's stdout and stderr as text.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The stdout and stderr of a command that must have succeeded.
pub fn ok(out: &Output) -> (String, String) {
    let (stdout, stderr) = text(out);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status.code()
    );
    (stdout, stderr)
}

/// Runs `tuna args` in the working directory `cwd`.
pub fn run_in(cwd: &Path, args: &[&str]) -> Output {
    tuna().args(args).current_dir(cwd).output().unwrap()
}

/// Runs `tuna args` in `cwd`, which must succeed; returns its stdout.
pub fn ok_in(cwd: &Path, args: &[&str]) -> String {
    let out = run_in(cwd, args);
    let (stdout, stderr) = text(&out);
    assert!(
        out.status.success(),
        "tuna {args:?}: exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status.code()
    );
    stdout
}

/// Runs `tuna args` in `cwd`, which must fail with exit code 1; returns its stderr.
pub fn err_in(cwd: &Path, args: &[&str]) -> String {
    let out = run_in(cwd, args);
    assert_eq!(out.status.code(), Some(1), "tuna {args:?} should fail");
    text(&out).1
}
