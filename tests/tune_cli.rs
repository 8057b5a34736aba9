//! `tuna tune` outside the happy path (issue 11): a misspelled parameter path or objective
//! metric fails before the first trial, a study with no complete trial exits non-zero,
//! `--jobs 0` is a usage error, `--jobs auto` measures and reports its split, `--set` overrides the base experiment, an unknown sampler is
//! named with the known ones, a resumed study's progress counts its earlier trials, and a
//! study folder far from its base still finds the base's data.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{tuna, write_small_base};

fn scratch(name: &str) -> PathBuf {
    common::scratch("tune-cli", name)
}

/// A tiny base (200 digits, width 8, `epochs` epochs) and a space over it with `extra`
/// top-level lines and `params`.
fn write_space(dir: &Path, epochs: usize, extra: &str, params: &str) -> PathBuf {
    write_small_base(dir, 200, 8, epochs);
    let space =
        format!("base = \"base.toml\"\nname = \"cli\"\nseed = 1\n{extra}\n[params]\n{params}\n");
    let path = dir.join("space.toml");
    std::fs::write(&path, space).unwrap();
    path
}

fn tune(space: &Path, study: &Path, args: &[&str]) -> Output {
    tuna()
        .arg("tune")
        .arg(space)
        .args(args)
        .arg("--out")
        .arg(study)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

const LR: &str = r#""optimizer.lr" = { log_uniform = [1e-3, 0.05] }"#;

#[test]
fn a_misspelled_path_fails_before_the_first_trial() {
    let dir = scratch("typo");
    let space = write_space(
        &dir,
        1,
        "trials = 3",
        r#""optimizer.lrr" = { log_uniform = [1e-3, 0.3] }"#,
    );
    let study = dir.join("study");
    let out = tune(&space, &study, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("space.toml: params.\"optimizer.lrr\""),
        "{err}"
    );
    assert!(err.contains("unknown field `lrr`"), "{err}");
    assert!(!study.exists(), "nothing was created");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unrecorded_objective_metric_fails_before_the_first_trial() {
    let dir = scratch("metric");
    let space = write_space(&dir, 1, "trials = 3\n[objective]\nmetric = \"val_acc\"", LR);
    let study = dir.join("study");
    let out = tune(&space, &study, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("space.toml: objective.metric: `val_acc` is not recorded"),
        "{err}"
    );
    assert!(err.contains("val_accuracy"), "{err}");
    assert!(
        err.contains(&format!("{}", space.display())),
        "the user's file: {err}"
    );
    assert!(!study.exists(), "nothing was created");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_study_with_no_complete_trial_exits_non_zero() {
    let dir = scratch("none");
    let space = write_space(
        &dir,
        1,
        "trials = 2",
        r#""loader.batch_size" = { choice = [0] }"#,
    );
    let out = tune(&space, &dir.join("study"), &["--quiet"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no trial completed (2 trials: 0 pruned, 2 failed)"),
        "{err}"
    );
    assert!(
        err.contains("loader.batch_size"),
        "the first failure is shown: {err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn zero_jobs_is_a_usage_error() {
    let dir = scratch("jobs");
    let space = write_space(&dir, 1, "trials = 1", LR);
    let out = tune(&space, &dir.join("study"), &["--jobs", "0"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--jobs") && err.contains("must be at least 1"),
        "{err}"
    );
    assert!(!dir.join("study").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn jobs_auto_measures_the_base_and_runs_the_chosen_split() {
    let dir = scratch("jobs-auto");
    let space = write_space(&dir, 1, "trials = 2", LR);
    let out = tune(&space, &dir.join("study"), &["--jobs", "auto"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let line = err
        .lines()
        .find(|l| l.starts_with("--jobs auto: "))
        .unwrap_or_else(|| panic!("no --jobs auto line in {err}"));
    assert!(line.contains(&format!("of {cores} cores")), "{line}");
    // never more trials at once than the study has, never more threads than cores
    let field = |after: &str| -> usize {
        let rest = &line[line.find(after).unwrap() + after.len()..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    let (jobs, threads) = (field("cores: "), field("at once, "));
    assert!(
        (1..=2).contains(&jobs) && jobs * threads <= cores.max(1),
        "{line}"
    );
    assert!(
        err.contains(&format!("2 trials, {jobs} at a time")),
        "{err}"
    );
    assert_eq!(jsonl(&dir.join("study")).len(), 2);
    let bad = tune(&space, &dir.join("other"), &["--jobs", "many"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("or `auto`"), "{}", stderr(&bad));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unknown_sampler_names_the_file_and_the_known_types() {
    let dir = scratch("sampler");
    let space = write_space(&dir, 1, "trials = 1\n[sampler]\ntype = \"TPE\"", LR);
    let out = tune(&space, &dir.join("study"), &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("space.toml: sampler.type: unknown variant `TPE`"),
        "{err}"
    );
    for known in ["`RandomSampler`", "`GridSampler`", "`TPESampler`"] {
        assert!(err.contains(known), "{err}");
    }
    assert!(!err.contains("Some("), "{err}");
    let space = write_space(&dir, 1, "trials = 1\n[pruner]\ntype = \"ASHA\"", LR);
    let err = stderr(&tune(&space, &dir.join("study2"), &[]));
    assert!(
        err.contains("space.toml: pruner.type: unknown variant `ASHA`"),
        "{err}"
    );
    assert!(err.contains("`SuccessiveHalvingPruner`"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn jsonl(study: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(study.join("trials.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn set_overrides_the_base_and_resume_counts_the_earlier_trials() {
    let dir = scratch("set");
    let space = write_space(
        &dir,
        3,
        "trials = 2\n[objective]\nmetric = \"val_loss\"",
        LR,
    );
    let study = dir.join("study");
    let out = tune(&space, &study, &["--set", "train.epochs=1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let trials = jsonl(&study);
    assert_eq!(trials.len(), 2);
    assert!(
        trials.iter().all(|t| t["attrs"]["epochs"] == 1),
        "{trials:?}"
    );
    let base = std::fs::read_to_string(study.join("base.toml")).unwrap();
    assert!(base.contains("epochs = 1"), "{base}");
    // Resumed for one more trial: the progress line counts and ranks all three.
    let out = tuna()
        .args(["tune", "--trials", "3", "--resume"])
        .arg(&study)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let trials = jsonl(&study);
    assert_eq!(trials.len(), 3);
    let best = trials
        .iter()
        .filter_map(|t| t["value"].as_f64())
        .fold(f64::INFINITY, f64::min);
    let line = err
        .lines()
        .find(|l| l.contains(" complete, "))
        .unwrap_or_else(|| panic!("no progress line in {err}"));
    assert!(line.contains("[3 complete, 0 pruned, 0 failed;"), "{line}");
    assert!(
        line.contains(&format!("best {best:.5}")),
        "{line} (best {best})"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_study_folder_elsewhere_keeps_the_base_data_path_usable() {
    // The base names its data relative to itself; the study folder is far from it. The
    // folder's base.toml and best.toml must still find the data, from any directory.
    let dir = scratch("elsewhere");
    let project = dir.join("project");
    let configs = project.join("configs");
    std::fs::create_dir_all(&configs).unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/mnist-10k");
    std::os::unix::fs::symlink(&data, project.join("digits")).unwrap();
    write_space(&configs, 1, "trials = 2", LR);
    let base = configs.join("base.toml");
    let text = std::fs::read_to_string(&base).unwrap();
    let text = text.replace(&format!("\"{}\"", data.display()), "\"../digits\"");
    assert!(text.contains("path = \"../digits\""), "{text}");
    std::fs::write(&base, &text).unwrap();
    let study = dir.join("far").join("away").join("study");
    let out = tune(&configs.join("space.toml"), &study, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let best = std::fs::read_to_string(study.join("best.toml")).unwrap();
    assert!(
        best.contains("# a small MNIST MLP for the tests"),
        "comments kept: {best}"
    );
    for file in ["best.toml", "base.toml"] {
        let out = tuna()
            .current_dir("/")
            .arg("summary")
            .arg(study.join(file))
            .output()
            .unwrap();
        assert!(out.status.success(), "{file}: {}", stderr(&out));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn seed_replaces_the_space_seed_and_is_kept_for_resume() {
    let dir = scratch("seed");
    let space = write_space(&dir, 1, "trials = 1", LR);
    let lr_of = |study: &Path| jsonl(study)[0]["params"]["optimizer.lr"]["Float"].as_f64();
    let first = |seed: &str, name: &str| {
        let study = dir.join(name);
        let out = tune(&space, &study, &["--seed", seed]);
        assert!(out.status.success(), "{}", stderr(&out));
        study
    };
    let (a, b, c) = (first("7", "a"), first("7", "b"), first("8", "c"));
    assert!(lr_of(&a).is_some(), "{:?}", jsonl(&a));
    assert_eq!(
        lr_of(&a),
        lr_of(&b),
        "the same seed samples the same first trial"
    );
    assert_ne!(lr_of(&a), lr_of(&c), "another seed samples another");
    let copied = std::fs::read_to_string(a.join("space.toml")).unwrap();
    assert!(copied.contains("seed = 7"), "{copied}");
    let out = tuna()
        .args(["tune", "--seed", "9", "--resume"])
        .arg(&a)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--seed conflicts with --resume");
    std::fs::remove_dir_all(&dir).unwrap();
}
