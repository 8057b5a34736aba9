//! The runner on the in-memory storage: samplers proposing through a storage, a small real
//! study with parallel workers, and the checks run before the first trial.

use std::path::{Path, PathBuf};

use super::*;
use crate::storage::MemoryDatabase;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn link() {
    tuna_data::link();
    tuna_nn::link();
    crate::link();
}

/// A space over the iris experiment (`head`: extra top-level keys and tables), in a scratch
/// folder; `overrides` apply to the base.
fn space(name: &str, head: &str, params: &str, overrides: &[&str]) -> SearchSpace {
    link();
    let dir = std::env::temp_dir().join(format!("tuna-runner-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = repo().join("examples/configs/iris.toml");
    let text = format!(
        "base = \"{}\"\nname = \"{name}\"\n{head}\n[params]\n{params}\n",
        base.display().to_string().replace('\\', "/")
    );
    let file = dir.join("space.toml");
    std::fs::write(&file, text).unwrap();
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    SearchSpace::load_with(&file, &overrides).unwrap()
}

#[test]
fn a_grid_proposed_through_the_storage_visits_every_point_once() {
    let s = space(
        "grid",
        "[sampler]\ntype = \"GridSampler\"",
        "\"loader.batch_size\" = { choice = [8, 16, 32] }\n\"optimizer.lr\" = { log_uniform = [1e-3, 1e-1] }",
        &[],
    );
    let study = Study::new(s);
    let limit = study.trial_limit.unwrap();
    assert_eq!(limit, 15, "3 options x 5 grid points");
    let location = Location::Memory(MemoryDatabase::new());
    let mut storage = storage::open(&location, "grid", &study.space.source).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    while let Some((n, params)) = storage
        .create_trial(limit as usize, "w", None, &mut |t, n| study.propose(t, n))
        .unwrap()
    {
        storage
            .finish(n, TrialState::Complete, Some(n as f64), None, &json!({}))
            .unwrap();
        assert!(seen.insert(format!("{params:?}")), "point {params:?} twice");
    }
    assert_eq!(seen.len(), 15);
}

#[test]
fn a_study_runs_in_memory_with_parallel_workers() {
    let s = space(
        "memory",
        "trials = 4\nseed = 3\n[objective]\nmetric = \"val_accuracy\"\n[sampler]\ntype = \"RandomSampler\"",
        "\"optimizer.lr\" = { log_uniform = [1e-3, 1e-1] }\n\"model.layers[0].out_features\" = { int = [4, 16], step = 4 }\n\"model.layers[2].in_features\" = { same_as = \"model.layers[0].out_features\" }",
        &["train.epochs=3"],
    );
    let study = Study::new(s);
    let dir = std::env::temp_dir().join(format!("tuna-runner-{}-memory/study", std::process::id()));
    let db = MemoryDatabase::new();
    let opts = RunOptions {
        trials: 4,
        timeout: None,
        jobs: 2,
        dir: dir.clone(),
        storage: Some(Location::Memory(db.clone())),
        data_dirs: vec![repo()],
        threads: Some(1),
    };
    let events = Mutex::new(Vec::new());
    study
        .run(&opts, &|e: &TrialEvent| {
            events.lock().unwrap().push(e.number)
        })
        .unwrap();
    let mut numbers = events.into_inner().unwrap();
    numbers.sort_unstable();
    assert_eq!(numbers, vec![0, 1, 2, 3]);
    let (mut storage, name, _) = storage::open_existing(&Location::Memory(db), None).unwrap();
    assert_eq!(name, "memory");
    let trials = storage.trials().unwrap();
    assert_eq!(trials.len(), 4);
    for t in &trials {
        assert_eq!(t.trial.state, TrialState::Complete, "{:?}", t.error);
        assert_eq!(t.attrs["epochs"], 3, "the override reached the trials");
        assert_eq!(t.trial.intermediate.len(), 3);
        let width = t.trial.params["model.layers[0].out_features"];
        assert!(
            matches!(width, ParamValue::Int(4 | 8 | 12 | 16)),
            "{width:?}"
        );
    }
    std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
}

#[test]
fn a_misspelled_path_is_named_before_any_trial() {
    let s = space(
        "typo",
        "",
        "\"optimizer.lrr\" = { log_uniform = [1e-3, 1e-1] }",
        &[],
    );
    let e = Study::new(s).preflight(&[repo()]).unwrap_err().to_string();
    assert!(e.contains("space.toml: params.\"optimizer.lrr\""), "{e}");
    assert!(e.contains("lrr"), "{e}");
    assert!(e.contains("not in the base experiment"), "{e}");
    let s = space(
        "index",
        "",
        "\"model.layers[7].p\" = { uniform = [0.0, 0.5] }",
        &[],
    );
    let e = Study::new(s).preflight(&[repo()]).unwrap_err().to_string();
    assert!(e.contains("params.\"model.layers[7].p\""), "{e}");
    // A field the base leaves at its default is fine.
    let s = space(
        "default",
        "",
        "\"optimizer.weight_decay\" = { log_uniform = [1e-6, 1e-2] }",
        &[],
    );
    Study::new(s).preflight(&[repo()]).unwrap();
}

#[test]
fn an_unrecorded_objective_is_named_with_what_is_recorded() {
    let s = space(
        "metric",
        "[objective]\nmetric = \"val_acc\"",
        "\"optimizer.lr\" = { log_uniform = [1e-3, 1e-1] }",
        &[],
    );
    let e = Study::new(s).preflight(&[repo()]).unwrap_err().to_string();
    assert!(
        e.contains("space.toml: objective.metric: `val_acc` is not recorded"),
        "{e}"
    );
    assert!(e.contains("val_accuracy") && e.contains("val_f1"), "{e}");
    let s = space(
        "also",
        "[objective]\nmetric = \"val_f1\"\nalso = [{ metric = \"seconds\" }, { metric = \"parameters\" }, { metric = \"test_accuracy\" }, { metric = \"tst_loss\" }]",
        "\"optimizer.lr\" = { log_uniform = [1e-3, 1e-1] }",
        &[],
    );
    let e = Study::new(s).preflight(&[repo()]).unwrap_err().to_string();
    assert!(e.contains("objective.also[3].metric: `tst_loss`"), "{e}");
}

#[test]
fn each_trial_gets_the_threads_it_is_given() {
    let opts = |jobs, threads| RunOptions {
        trials: 1,
        timeout: None,
        jobs,
        dir: PathBuf::new(),
        storage: None,
        data_dirs: Vec::new(),
        threads,
    };
    assert_eq!(opts(1, Some(3)).threads_per_trial(), 3);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(opts(1, None).threads_per_trial(), cores);
    assert_eq!(opts(cores * 2, None).threads_per_trial(), 1);
}
