//! Many workers, one study in PostgreSQL: two `tuna tune` processes (as on two machines, each
//! with its own study folder) run one study against the server named by `TUNA_TEST_POSTGRES`
//! (`.ci/run` starts one), and together run exactly the budget — no trial lost, none run
//! twice. Without the variable the test fails under CI and is skipped (with a message)
//! elsewhere.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

fn tuna() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tuna"))
}

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
    let dir = std::env::temp_dir().join(format!("tuna-pg-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fast base experiment and a space over it (as in tests/tune_study.rs), under a study name
/// no other run uses: studies stay in the server's database.
fn write_space(dir: &Path, name: &str, trials: usize) -> PathBuf {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/mnist-10k");
    let base = format!(
        r#"
seed = 0
[data]
type = "Mnist"
path = "{}"
validation = 0.25
train_subset = 400
test = false
[loader]
batch_size = 50
shuffle = true
[model]
type = "Sequential"
layers = [
  {{ type = "Flatten" }},
  {{ type = "Linear", in_features = 784, out_features = 16 }},
  {{ type = "ReLU" }},
  {{ type = "Linear", in_features = 16, out_features = 10 }},
]
[loss]
type = "CrossEntropyLoss"
[optimizer]
type = "SGD"
lr = 0.05
momentum = 0.9
[train]
epochs = 3
metrics = ["accuracy"]
"#,
        data.display().to_string().replace('\\', "/")
    );
    std::fs::write(dir.join("base.toml"), base).unwrap();
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

#[test]
fn two_worker_processes_share_one_postgres_study_without_losing_or_repeating_trials() {
    let Some(url) = postgres_url() else { return };
    const BUDGET: usize = 10;
    let dir = scratch("two-workers");
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("pg-two-workers-{}-{nanos}", std::process::id());
    let space = write_space(&dir, &name, BUDGET);
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
    let jsonl = std::fs::read_to_string(folders[0].join("trials.jsonl")).unwrap();
    let trials: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The budget exactly; numbers unique and contiguous; every trial finished, none
    // interrupted.
    assert_eq!(trials.len(), BUDGET, "{jsonl}");
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
