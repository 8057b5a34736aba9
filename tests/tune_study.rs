//! `tuna tune` end to end on a small MNIST space: parallel trials, an invalid sample recorded
//! as a failed trial (the study goes on), reports, and a study killed with SIGKILL that
//! resumes without losing or repeating trials.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::{tuna, write_small_base};

fn scratch(name: &str) -> PathBuf {
    common::scratch("tune", name)
}

/// A fast base experiment and a space over it; `batch_sizes` may hold an invalid value.
fn write_space(dir: &Path, batch_sizes: &str, trials: usize) -> PathBuf {
    write_small_base(dir, 800, 32, 4);
    let space = format!(
        r#"
base = "base.toml"
name = "small"
trials = {trials}
seed = 1
[objective]
metric = "val_accuracy"
also = [{{ metric = "seconds" }}]
[sampler]
type = "TPESampler"
n_startup_trials = 3
[pruner]
type = "MedianPruner"
n_startup_trials = 2
[params]
"optimizer" = {{ choice = [
  {{ type = "SGD", lr = {{ log_uniform = [1e-3, 0.3] }}, momentum = 0.9 }},
  {{ type = "AdamW", lr = {{ log_uniform = [1e-4, 1e-2] }} }},
] }}
"model.layers[1].out_features" = {{ int = [16, 64], step = 16 }}
"model.layers[3].in_features" = {{ same_as = "model.layers[1].out_features" }}
"loader.batch_size" = {{ choice = [{batch_sizes}] }}
"#
    );
    let path = dir.join("space.toml");
    std::fs::write(&path, space).unwrap();
    path
}

/// `(total, complete, pruned, failed)` from `tuna study show`.
fn tally(study: &Path) -> (usize, usize, usize, usize) {
    let out = tuna().args(["study", "show"]).arg(study).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let line = text
        .lines()
        .find(|l| l.contains(" trials: "))
        .unwrap_or_else(|| panic!("no tally in:\n{text}"));
    let nums: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    (nums[0], nums[1], nums[2], nums[3])
}

#[test]
fn a_study_runs_parallel_trials_records_failures_and_writes_reports() {
    let dir = scratch("run");
    let space = write_space(&dir, "0, 25, 50", 8);
    let study = dir.join("study");
    let out = tuna()
        .args(["tune", space.to_str().unwrap(), "--jobs", "2", "--out"])
        .arg(&study)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let (total, complete, pruned, failed) = tally(&study);
    assert_eq!(total, 8);
    assert_eq!(complete + pruned + failed, 8);
    assert!(complete >= 1);
    // batch_size = 0 is invalid: such trials fail with the validation error, the study goes on
    let jsonl = std::fs::read_to_string(study.join("trials.jsonl")).unwrap();
    for line in jsonl.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["params"]["loader.batch_size"]["Choice"] == 0 {
            assert_eq!(v["state"], "failed");
            assert!(
                v["error"].as_str().unwrap().contains("loader.batch_size"),
                "{v}"
            );
        }
    }
    for f in [
        "best.toml",
        "trials.csv",
        "history.svg",
        "intermediate.png",
        "importances.svg",
    ] {
        assert!(study.join(f).is_file(), "missing {f}");
    }
    // best.toml is the base file with the best trial's values: its comments are kept
    let best = std::fs::read_to_string(study.join("best.toml")).unwrap();
    assert!(best.contains("# a small MNIST MLP for the tests"), "{best}");
    assert!(best.contains("name = \"small-best\""), "{best}");
    // and a runnable experiment
    let out = tuna()
        .args(["summary"])
        .arg(study.join("best.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_killed_study_resumes_without_losing_or_repeating_trials() {
    let dir = scratch("kill");
    let space = write_space(&dir, "25, 50", 10);
    let study = dir.join("study");
    let mut child = tuna()
        .args(["tune", space.to_str().unwrap(), "--quiet", "--out"])
        .arg(&study)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let trials_dir = study.join("trials");
    let t = Instant::now();
    let mut killed = false;
    while t.elapsed() < Duration::from_secs(120) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        let started = std::fs::read_dir(&trials_dir)
            .map(|d| d.count())
            .unwrap_or(0);
        if started >= 4 {
            child.kill().unwrap(); // SIGKILL, mid-trial
            killed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait().unwrap();
    assert!(killed, "the study finished before it could be killed");
    let out = tuna()
        .args(["tune", "--quiet", "--resume"])
        .arg(&study)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jsonl = std::fs::read_to_string(study.join("trials.jsonl")).unwrap();
    let trials: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let interrupted = trials
        .iter()
        .filter(|t| {
            t["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("interrupted"))
        })
        .count();
    let finished = trials.iter().filter(|t| t["state"] != "running").count() - interrupted;
    assert_eq!(finished, 10, "exactly the budget ran to an outcome");
    assert!(trials.iter().all(|t| t["state"] != "running"));
    let mut numbers: Vec<u64> = trials
        .iter()
        .map(|t| t["number"].as_u64().unwrap())
        .collect();
    numbers.dedup();
    assert_eq!(numbers.len(), trials.len(), "trial numbers are unique");
    std::fs::remove_dir_all(&dir).unwrap();
}
