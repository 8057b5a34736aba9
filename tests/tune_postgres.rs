//! Many workers, one study in PostgreSQL: two `tuna tune` processes (as on two machines, each
//! with its own study folder) run one study against the server named by `TUNA_TEST_POSTGRES`
//! (`.ci/run` starts one), and together run exactly the budget — no trial lost, none run
//! twice; and a worker killed mid-study has its trial rerun, once, by the workers that join
//! later. Without the variable the tests fail under CI and are skipped (with a message)
//! elsewhere.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;
use common::{tuna, write_small_base};

fn postgres_url() -> Option<String> {
    match std::env::var("TUNA_TEST_POSTGRES") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!(
            "CI is set but TUNA_TEST_POSTGRES is not: .ci/run must start PostgreSQL and export it"
        ),
        _ => {
            eprintln!("SKIPPED: set TUNA_TEST_POSTGRES=postgres://user:password@localhost/db to run the shared-study test");
            None
        }
    }
}

fn scratch(name: &str) -> PathBuf {
    common::scratch("pg", name)
}

/// A fast base experiment and a space over it (as in tests/tune_study.rs), under a study name
/// no other run uses: studies stay in the server's database.
fn write_space(dir: &Path, name: &str, trials: usize) -> PathBuf {
    write_small_base(dir, 400, 16, 3);
    let space = format!(
        r#"
base = "base.toml"
name = "{name}"
trials = {trials}
seed = 1
[objective]
metric = "val_accuracy"
[sampler]
type = "TPESampler"
n_startup_trials = 3
[pruner]
type = "MedianPruner"
n_startup_trials = 2
[params]
"optimizer.lr" = {{ log_uniform = [1e-3, 0.3] }}
"model.layers[1].out_features" = {{ int = [8, 32], step = 8 }}
"model.layers[3].in_features" = {{ same_as = "model.layers[1].out_features" }}
"#
    );
    let path = dir.join("space.toml");
    std::fs::write(&path, space).unwrap();
    path
}

/// The trial numbers whose run folders a worker's study folder holds.
fn run_folders(study: &Path) -> BTreeSet<u64> {
    std::fs::read_dir(study.join("trials"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn unique_name(what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("pg-{what}-{}-{nanos}", std::process::id())
}

fn jsonl(study: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(study.join("trials.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn two_worker_processes_share_one_postgres_study_without_losing_or_repeating_trials() {
    let Some(url) = postgres_url() else { return };
    const BUDGET: usize = 10;
    let dir = scratch("two-workers");
    let space = write_space(&dir, &unique_name("two-workers"), BUDGET);
    // Two "machines": each worker its own study folder, the same space and storage.
    let folders = [dir.join("machine-a"), dir.join("machine-b")];
    let workers: Vec<_> = folders
        .iter()
        .map(|out| {
            tuna()
                .args(["tune", space.to_str().unwrap(), "--storage", &url, "--out"])
                .arg(out)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for w in workers {
        let out = w.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a worker failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Each folder remembers the storage; its password stays out of messages.
    let remembered = std::fs::read_to_string(folders[0].join("storage.txt")).unwrap();
    assert!(remembered.contains(&url), "{remembered}");

    // `tuna study show` on either folder reads the whole study from PostgreSQL.
    for f in &folders {
        let out = tuna().args(["study", "show"]).arg(f).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("{BUDGET} trials: ")),
            "study show on {}:\n{stdout}",
            f.display()
        );
    }
    let trials = jsonl(&folders[0]);
    // The budget exactly; numbers unique and contiguous; every trial finished, none
    // interrupted.
    assert_eq!(trials.len(), BUDGET, "{trials:?}");
    let numbers: Vec<u64> = trials
        .iter()
        .map(|t| t["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (0..BUDGET as u64).collect::<Vec<_>>());
    for t in &trials {
        assert!(
            ["complete", "pruned"].contains(&t["state"].as_str().unwrap()),
            "every trial ran to an outcome: {t}"
        );
    }
    // No trial ran twice: every parameter set is distinct, and each trial's run folder is on
    // exactly one machine.
    let params: BTreeSet<String> = trials.iter().map(|t| t["params"].to_string()).collect();
    assert_eq!(params.len(), BUDGET, "a parameter set was run twice");
    let (a, b) = (run_folders(&folders[0]), run_folders(&folders[1]));
    assert!(
        a.is_disjoint(&b),
        "a trial ran on both workers: {a:?} {b:?}"
    );
    assert_eq!(
        a.union(&b).copied().collect::<Vec<_>>(),
        numbers,
        "every trial ran on one of the workers"
    );
    assert!(
        !a.is_empty() && !b.is_empty(),
        "both workers took trials: {a:?} {b:?}"
    );

    // A third worker that joins the finished study runs nothing and reports the same study.
    let out = tuna()
        .args([
            "tune",
            space.to_str().unwrap(),
            "--quiet",
            "--storage",
            &url,
            "--out",
        ])
        .arg(&folders[0])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("{BUDGET} trials: ")), "{stdout}");
    assert_eq!(run_folders(&folders[0]), a);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_killed_worker_s_trial_is_rerun_by_the_workers_that_join_later() {
    let Some(url) = postgres_url() else { return };
    const BUDGET: usize = 8;
    let dir = scratch("killed");
    let space = write_space(&dir, &unique_name("killed"), BUDGET);
    let (a, b) = (dir.join("machine-a"), dir.join("machine-b"));
    let worker = |out: &Path| {
        let mut c = tuna();
        c.args([
            "tune",
            space.to_str().unwrap(),
            "--quiet",
            "--storage",
            &url,
            "--out",
        ])
        .arg(out);
        c
    };
    let mut child = worker(&a)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let mut killed = false;
    while t.elapsed() < Duration::from_secs(120) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if run_folders(&a).len() >= 3 {
            child.kill().unwrap(); // SIGKILL, most likely mid-trial
            killed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait().unwrap();
    assert!(killed, "the worker finished before it could be killed");
    // Two workers join: the first to start reaps the dead worker's trial and reruns it.
    let joined: Vec<_> = [&a, &b]
        .iter()
        .map(|out| {
            worker(out)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for w in joined {
        let out = w.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = tuna().args(["study", "show"]).arg(&b).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trials = jsonl(&b);
    let interrupted: Vec<&serde_json::Value> = trials
        .iter()
        .filter(|t| {
            t["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("interrupted"))
        })
        .collect();
    assert!(
        interrupted.len() <= 1,
        "one worker was killed once: {interrupted:?}"
    );
    let ran: Vec<&serde_json::Value> = trials
        .iter()
        .filter(|t| ["complete", "pruned"].contains(&t["state"].as_str().unwrap()))
        .collect();
    assert_eq!(ran.len(), BUDGET, "exactly the budget ran to an outcome");
    assert_eq!(trials.len(), BUDGET + interrupted.len());
    let numbers: Vec<u64> = trials
        .iter()
        .map(|t| t["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (0..trials.len() as u64).collect::<Vec<_>>());
    // The interrupted trial was rerun with its parameters, once.
    for i in &interrupted {
        let again = ran.iter().filter(|t| t["params"] == i["params"]).count();
        assert_eq!(again, 1, "the interrupted trial was rerun once: {i}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
