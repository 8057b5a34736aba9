//! The CLI the way a user meets it outside the repository: commands started from other
//! directories, run folders that were moved, output to pipes that close early, Ctrl-C in the
//! middle of training, folders Tuna did not write, bad values on the command line, corrupt
//! weights. Every case checks the exit status, that nothing panicked, and that results go to
//! stdout while messages go to stderr.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{ok, text};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tuna-cli-user-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config(name: &str) -> String {
    format!("{ROOT}/examples/configs/{name}")
}

/// `tuna ARGS` started in `cwd`.
fn tuna_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tuna"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// The stderr of a command that must have failed with exit status 1 and no panic.
fn failed(out: &Output) -> String {
    let (stdout, stderr) = text(out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit status 1\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

/// iris.csv without scikit-learn's first line (`150,4,setosa,...`): what a user predicts on.
fn flowers(dir: &Path) -> String {
    let text = std::fs::read_to_string(format!("{ROOT}/datasets/iris/iris.csv")).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    let path = dir.join("flowers.csv");
    std::fs::write(&path, rows.join("\n") + "\n").unwrap();
    path.to_str().unwrap().to_string()
}

fn train_iris(cwd: &Path, out: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "train",
        "--quiet",
        "--epochs",
        "3",
        "--out",
        out,
        "--set",
        "optimizer.lr=0.05",
    ];
    args.extend_from_slice(extra);
    let file = config("iris.toml");
    args.insert(1, &file);
    tuna_in(cwd, &args)
}

#[test]
fn a_run_folder_works_from_anywhere_after_it_is_moved() {
    let home = temp_dir("moved");
    let work = home.join("work");
    let elsewhere = home.join("elsewhere");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    ok(&train_iris(&work, "runs/iris", &[]));
    let moved = home.join("archive/iris");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(work.join("runs/iris"), &moved).unwrap();
    let run = moved.to_str().unwrap();

    let (eval, _) = ok(&tuna_in(&elsewhere, &["eval", run]));
    assert!(eval.contains("accuracy"), "{eval}");
    let (show, _) = ok(&tuna_in(&elsewhere, &["show", run]));
    assert!(show.contains("best epoch"), "{show}");
    let csv = flowers(&home);
    let (pred, _) = ok(&tuna_in(&elsewhere, &["predict", run, &csv]));
    assert_eq!(
        pred.lines().count(),
        151,
        "a header and one row per flower:\n{pred}"
    );
    // a finished run continues for more epochs from the moved folder
    let (_, stderr) = ok(&tuna_in(
        &elsewhere,
        &["train", "--resume", run, "--epochs", "5", "--quiet"],
    ));
    assert_eq!(stderr, "");
    let metrics = std::fs::read_to_string(moved.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 5, "{metrics}");
}

#[test]
fn results_on_stdout_progress_on_stderr() {
    let dir = temp_dir("streams");
    let out = tuna_in(
        &dir,
        &[
            "train",
            &config("iris.toml"),
            "--out",
            "run",
            "--epochs",
            "2",
        ],
    );
    let (stdout, stderr) = ok(&out);
    assert!(stdout.contains("test: test_accuracy"), "{stdout}");
    assert!(
        !stdout.contains("epoch 1/2"),
        "progress stays off stdout:\n{stdout}"
    );
    assert!(stderr.contains("run folder"), "{stderr}");
    assert!(
        !stderr.contains('\r'),
        "no live bar when stderr is not a terminal:\n{stderr}"
    );
}

/// Starts `tuna ARGS` in `cwd` with stdout piped, reads `bytes` of it, and closes the pipe.
fn read_then_close(cwd: &Path, args: &[&str], bytes: usize) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tuna"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = vec![0u8; bytes];
    stdout.read_exact(&mut buf).unwrap();
    drop(stdout);
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let dir = temp_dir("pipe");
    ok(&train_iris(&dir, "run", &[]));
    let csv = flowers(&dir);
    // `tuna predict RUN FILE | head -c 100`
    let out = read_then_close(&dir, &["predict", "run", &csv, "--batch-size", "1"], 100);
    let (_, stderr) = text(&out);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

/// Waits until the child's stderr has printed a line containing `needle`; returns the text
/// read so far (the rest keeps flowing on a thread so the child never blocks).
fn wait_for_stderr(child: &mut Child, needle: &str) -> std::sync::mpsc::Receiver<String> {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            if line.contains(needle) {
                return rx;
            }
        }
    }
    panic!("`{needle}` never appeared on stderr");
}

#[test]
fn ctrl_c_checkpoints_and_the_run_resumes() {
    let dir = temp_dir("sigint");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tuna"))
        .args([
            "train",
            &config("mnist-mlp.toml"),
            "--out",
            "run",
            "--plain",
            "--epochs",
            "200",
            "--set",
            "data.train_subset=2000",
        ])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rest = wait_for_stderr(&mut child, " 1/200 ");
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let said: Vec<String> = rest.iter().collect();
    let said = said.join("\n");
    assert_eq!(status.code(), Some(130), "{said}");
    assert!(said.contains("resume with: tuna train --resume"), "{said}");
    let run = dir.join("run");
    assert!(run.join("checkpoints/last.ckpt").is_file());
    assert!(
        !run.join("summary.json").exists(),
        "an interrupted run is not finished"
    );
    let done = std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .count();
    let target = (done + 1).to_string();
    ok(&tuna_in(
        &dir,
        &["train", "--resume", "run", "--epochs", &target, "--quiet"],
    ));
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), done + 1, "{metrics}");
    assert!(run.join("summary.json").is_file());
}

#[test]
fn folders_tuna_did_not_write_are_left_alone() {
    let dir = temp_dir("foreign");
    std::fs::create_dir_all(dir.join("mine")).unwrap();
    std::fs::write(dir.join("mine/notes.txt"), "my notes").unwrap();
    let err = failed(&train_iris(&dir, "mine", &[]));
    assert!(err.contains("not a Tuna run folder"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("mine/notes.txt")).unwrap(),
        "my notes"
    );
    // an existing run is not trained over either
    ok(&train_iris(&dir, "run", &[]));
    let err = failed(&train_iris(&dir, "run", &[]));
    assert!(err.contains("already holds a run"), "{err}");
    // predictions never replace a file Tuna did not write
    let csv = flowers(&dir);
    let err = failed(&tuna_in(
        &dir,
        &["predict", "run", &csv, "--out", "mine/notes.txt"],
    ));
    assert!(err.contains("notes.txt"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("mine/notes.txt")).unwrap(),
        "my notes"
    );
}

#[test]
fn resume_without_a_checkpoint_asks_before_starting_over() {
    let dir = temp_dir("no-ckpt");
    ok(&train_iris(&dir, "run", &[]));
    std::fs::remove_file(dir.join("run/summary.json")).unwrap();
    std::fs::remove_file(dir.join("run/checkpoints/last.ckpt")).unwrap();
    let err = failed(&tuna_in(&dir, &["train", "--resume", "run"]));
    assert!(err.contains("--restart"), "{err}");
    ok(&tuna_in(
        &dir,
        &["train", "--resume", "run", "--restart", "--quiet"],
    ));
    assert!(dir.join("run/summary.json").is_file());
}

#[test]
fn bad_values_on_the_command_line_are_named() {
    let dir = temp_dir("bad-set");
    for (set, expected) in [
        ("optimizer.lr=abc", "optimizer.lr"),
        ("optimizer.lr=nan", "optimizer.lr"),
        ("optimizer.lr=\"fast\"", "optimizer.lr"),
        ("loader.batch_size=-3", "loader.batch_size"),
    ] {
        let err = failed(&train_iris(&dir, "run", &["--set", set]));
        assert!(err.contains(expected), "--set {set}: {err}");
        assert!(!dir.join("run").exists(), "--set {set}: nothing is created");
    }
    // a usage error is exit status 2
    let out = tuna_in(&dir, &["train", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_loss_that_does_not_fit_the_data_stops_before_the_folder() {
    let dir = temp_dir("wrong-loss");
    let err = failed(&train_iris(
        &dir,
        "run",
        &["--set", "loss={ type = \"MSELoss\" }"],
    ));
    assert!(err.contains("loss"), "{err}");
    assert!(
        !dir.join("run").exists(),
        "checked before the run folder is created"
    );
}

#[test]
fn corrupt_weights_are_refused() {
    let dir = temp_dir("corrupt");
    ok(&train_iris(&dir, "run", &[]));
    let weights = dir.join("run/model.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 5;
    bytes[last] ^= 0x40;
    std::fs::write(&weights, bytes).unwrap();
    let err = failed(&tuna_in(&dir, &["eval", "run"]));
    assert!(
        err.contains("model.safetensors") && err.contains("corrupt"),
        "{err}"
    );
    // the checkpoints are still there to fall back on
    let (stdout, _) = ok(&tuna_in(&dir, &["eval", "run", "--weights", "last"]));
    assert!(stdout.contains("accuracy"), "{stdout}");
}

/// `tuna train cfg --plain 2>&1 | head -3`: the pipe closes after three lines, and training
/// goes on to the end with exit status 0.
#[test]
fn training_survives_a_closed_terminal_pipe() {
    let dir = temp_dir("head");
    let line = format!(
        "'{}' train '{}' --plain --epochs 400 --unset train.early_stopping --out run 2>&1 | head -3; exit ${{PIPESTATUS[0]}}",
        env!("CARGO_BIN_EXE_tuna"),
        config("iris.toml")
    );
    let out = Command::new("bash")
        .args(["-c", &line])
        .current_dir(&dir)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["epochs_completed"], 400, "{summary}");
}

/// The share of rows whose predicted class (the second field of `tuna predict`'s CSV) is the
/// class whose index is in the last column of `labelled`.
fn predicted_accuracy(predictions: &str, labelled: &str, classes: &[&str]) -> f64 {
    let truth: Vec<&str> = labelled
        .lines()
        .map(|l| {
            classes[l
                .rsplit(',')
                .next()
                .unwrap()
                .trim()
                .parse::<usize>()
                .unwrap()]
        })
        .collect();
    let predicted: Vec<&str> = predictions
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(predicted.len(), truth.len(), "{predictions}");
    let right = predicted.iter().zip(&truth).filter(|(p, t)| p == t).count();
    right as f64 / truth.len() as f64
}

#[test]
fn predict_agrees_with_eval_on_the_same_rows() {
    let dir = temp_dir("predict-eval");
    ok(&train_iris(&dir, "run", &[]));
    // every flower, evaluated (`--split all`) and predicted
    let (eval, _) = ok(&tuna_in(&dir, &["eval", "run", "--split", "all"]));
    let reported: f64 = eval
        .split_whitespace()
        .skip_while(|w| !w.ends_with("accuracy"))
        .nth(1)
        .and_then(|v| v.trim_end_matches('%').parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in:\n{eval}"));
    let csv = flowers(&dir);
    let (pred, _) = ok(&tuna_in(&dir, &["predict", "run", &csv]));
    let labelled = std::fs::read_to_string(&csv).unwrap();
    let classes = ["setosa", "versicolor", "virginica"];
    let accuracy = 100.0 * predicted_accuracy(&pred, &labelled, &classes);
    assert!(
        (accuracy - reported).abs() < 0.01,
        "predict {accuracy:.2}% vs eval {reported:.2}%\n{eval}"
    );
}

/// `tuna predict`'s probabilities against PyTorch's forward pass of the same weights on rows
/// encoded from preprocessing.json alone (tests/fixtures/predict_customers/make_reference.py):
/// categorical one-hot columns, median imputation, missing indicators, an unseen category.
#[test]
fn predict_matches_a_pytorch_forward_pass() {
    let fixture = Path::new(ROOT).join("tests/fixtures/predict_customers");
    let cwd = temp_dir("predict-torch");
    let run = fixture.join("run");
    let input = fixture.join("input.csv");
    let (jsonl, _) = ok(&tuna_in(
        &cwd,
        &[
            "predict",
            run.to_str().unwrap(),
            input.to_str().unwrap(),
            "--format",
            "jsonl",
        ],
    ));
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("reference.json")).unwrap())
            .unwrap();
    let rows: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), reference["ids"].as_array().unwrap().len());
    for (k, row) in rows.iter().enumerate() {
        assert_eq!(row["id"], reference["ids"][k]);
        assert_eq!(row["prediction"], reference["classes"][k], "row {k}");
        for (c, class) in ["no", "yes"].iter().enumerate() {
            let ours = row["probabilities"][class].as_f64().unwrap();
            let torch = reference["probabilities"][k][c].as_f64().unwrap();
            assert!(
                (ours - torch).abs() < 1e-5,
                "row {k} p_{class}: tuna {ours} vs PyTorch {torch}"
            );
        }
    }
}
