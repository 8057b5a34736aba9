//! Runs `tuna lr-find` on the bundled MNIST MLP: the suggestion, the applied config, the plot,
//! and a sweep that diverges and stops early.

use std::path::PathBuf;
use std::process::{Command, Output};

use tuna::train::experiment::{get_path, Experiment};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tuna-lr-find-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tuna(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tuna"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn value_after(stdout: &str, label: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no `{label}` in\n{stdout}"));
    line[label.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn suggests_applies_and_plots() {
    tuna::link_all();
    let dir = temp_dir("mnist");
    let out_toml = dir.join("out.toml");
    let svg = dir.join("f.svg");
    let config = "examples/configs/mnist-mlp.toml";
    let before = std::fs::read_to_string(config).unwrap();
    let out = tuna(&[
        "lr-find",
        config,
        "--num-iter",
        "60",
        "--apply",
        out_toml.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lr = value_after(&stdout, "suggested lr:");
    let max_lr = value_after(&stdout, "suggested max_lr:");
    let steep = value_after(&stdout, "suggestion (steepest):");
    for v in [lr, max_lr, steep] {
        assert!(v.is_finite() && (1e-5..=1.0).contains(&v), "{v}\n{stdout}");
    }
    assert!(max_lr >= lr);
    // The applied copy is a valid experiment with the suggested lr (and OneCycleLR's
    // max_lr); the original file is untouched.
    let exp = Experiment::load(&out_toml, &[]).unwrap();
    let applied = get_path(&exp.source, "optimizer.lr")
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(
        (applied - lr).abs() <= 1e-12 * lr.max(1.0),
        "{applied} vs {lr}"
    );
    let applied_max = get_path(&exp.source, "scheduler.max_lr")
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(
        (applied_max - max_lr).abs() <= 1e-12,
        "{applied_max} vs {max_lr}"
    );
    assert_eq!(std::fs::read_to_string(config).unwrap(), before);
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.starts_with("<svg") && svg_text.contains(">learning rate (log scale)</text>"));
    assert!(svg_text.contains("valley"));
}

#[test]
fn a_huge_end_lr_diverges_and_stops_early() {
    let out = tuna(&[
        "lr-find",
        "examples/configs/mnist-mlp.toml",
        "--num-iter",
        "60",
        "--start-lr",
        "1e-4",
        "--end-lr",
        "1e8",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("stopped early"), "{stdout}");
    let batches: usize = stdout
        .split_whitespace()
        .nth(3)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(batches < 60, "{stdout}");
}

#[test]
fn bad_arguments_are_errors() {
    let out = tuna(&[
        "lr-find",
        "examples/configs/mnist-mlp.toml",
        "--plot",
        "f.txt",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--plot"));
    let out = tuna(&[
        "lr-find",
        "examples/configs/mnist-mlp.toml",
        "--start-lr",
        "1",
        "--end-lr",
        "0.1",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("end_lr"));
}

/// The `(lr, score)` rows of the sweep's table and the printed pick.
fn sweep_rows(stdout: &str, knob: &str) -> (Vec<(f64, f64)>, f64) {
    let start = stdout
        .lines()
        .position(|l| l.starts_with("short-run sweep:"))
        .unwrap_or_else(|| panic!("no sweep table in\n{stdout}"));
    let rows = stdout
        .lines()
        .skip(start + 2)
        .take_while(|l| !l.starts_with("swept"))
        .map(|l| {
            let mut w = l.split_whitespace().map(|x| x.parse::<f64>().unwrap());
            (w.next().unwrap(), w.next().unwrap())
        })
        .collect();
    (rows, value_after(stdout, &format!("swept {knob}:")))
}

#[test]
fn the_sweep_picks_the_lowest_short_run_and_applies_it_from_another_folder() {
    tuna::link_all();
    let dir = temp_dir("sweep");
    let config = std::path::absolute("examples/configs/iris.toml").unwrap();
    for (extra, knob) in [
        (None, "optimizer.lr"),
        (
            Some("scheduler={ type = \"OneCycleLR\", max_lr = 0.1 }"),
            "scheduler.max_lr",
        ),
    ] {
        let out_toml = dir.join(format!("{}.toml", knob.replace('.', "-")));
        let mut args = vec![
            "lr-find".to_string(),
            config.display().to_string(),
            "--sweep".into(),
            "--fraction".into(),
            "0.1".into(),
            "--apply".into(),
            out_toml.display().to_string(),
        ];
        if let Some(e) = extra {
            args.extend(["--set".to_string(), e.to_string()]);
        }
        let out = Command::new(env!("CARGO_BIN_EXE_tuna"))
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(
            stderr.contains("short run "),
            "progress goes to stderr: {stderr}"
        );
        let (rows, best) = sweep_rows(&stdout, knob);
        assert!(rows.len() >= 4, "{stdout}");
        let lowest = rows
            .iter()
            .filter(|r| r.1.is_finite())
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert!(
            (lowest.0 / best - 1.0).abs() < 0.01,
            "{lowest:?} vs {best}\n{stdout}"
        );
        // The rows form a geometric grid (the first ones) placed around the range test.
        assert!(rows.windows(2).all(|w| w[1].0 > w[0].0), "{stdout}");
        let exp = Experiment::load(&out_toml, &[]).unwrap();
        let applied = get_path(&exp.source, knob).unwrap().as_f64().unwrap();
        assert!((applied / best - 1.0).abs() < 0.01, "{applied} vs {best}");
        // The other knob is left as the config had it.
        assert_eq!(
            get_path(&exp.source, "optimizer.lr").unwrap().as_f64(),
            if knob == "optimizer.lr" {
                Some(applied)
            } else {
                Some(0.01)
            }
        );
    }
}

#[test]
fn unset_edits_reach_the_applied_copy() {
    let dir = temp_dir("unset");
    let out_toml = dir.join("no-es.toml");
    let out = tuna(&[
        "lr-find",
        "examples/configs/iris.toml",
        "--num-iter",
        "30",
        "--unset",
        "train.early_stopping",
        "--apply",
        out_toml.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exp = Experiment::load(&out_toml, &[]).unwrap();
    assert!(get_path(&exp.source, "train.early_stopping").is_none());
    assert!(get_path(&exp.source, "train.epochs").is_some());
}

#[test]
fn the_sweep_gives_the_same_runs_one_or_two_at_a_time() {
    let table = |jobs: &str| {
        let out = tuna(&[
            "lr-find",
            "examples/configs/iris.toml",
            "--sweep",
            "--fraction",
            "0.1",
            "--jobs",
            jobs,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        sweep_rows(&stdout, "optimizer.lr")
    };
    let (one, best_one) = table("1");
    let (two, best_two) = table("2");
    assert_eq!(one, two);
    assert_eq!(best_one, best_two);
}

#[test]
fn without_a_validation_split_the_sweep_scores_the_training_loss() {
    let out = tuna(&[
        "lr-find",
        "examples/configs/iris.toml",
        "--set",
        "data.validation=0",
        "--unset",
        "train.early_stopping",
        "--sweep",
        "--fraction",
        "0.05",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("by the lowest train_loss"), "{stdout}");
    let (rows, best) = sweep_rows(&stdout, "optimizer.lr");
    assert!(rows.iter().any(|r| (r.0 / best - 1.0).abs() < 0.01));
}
