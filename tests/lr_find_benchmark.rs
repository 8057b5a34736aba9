//! Does `tuna lr-find` agree with reality? On four tasks (the MNIST MLP and CNN, the spam
//! bag-of-embeddings text model, the iris table) the suggested lr — `scheduler.max_lr` for a
//! one-cycle schedule, else `optimizer.lr` — is compared with the best lr of a grid sweep of
//! full (shortened) runs: decades from 1e-4 to 10, then ×¼, ×½, ×2, ×4 around the best decade.
//! A run's score is its best validation loss (a diverged run scores +inf).
//!
//! ```text
//! cargo test --release --test lr_find_benchmark -- --ignored --nocapture
//! ```
//!
//! The table goes to `docs/src/lr_find_benchmark.md`, which the lr-find chapter includes.

use std::fmt::Write as _;
use std::path::Path;

use tuna::train::experiment::{get_path, Experiment};
use tuna::train::lr_find::{lr_find, LrFinderConfig};
use tuna::train::Trainer;

/// One task: an example experiment, the overrides that shorten it, and the knob that sets its lr.
struct Task {
    name: &'static str,
    config: &'static str,
    overrides: &'static [&'static str],
    unset: &'static [&'static str],
}

const TASKS: [Task; 4] = [
    Task {
        name: "MNIST MLP (SGD, OneCycleLR)",
        config: "examples/configs/mnist-mlp.toml",
        overrides: &["train.epochs=5", "data.train_subset=4000"],
        unset: &[],
    },
    Task {
        name: "MNIST CNN (SGD, OneCycleLR)",
        config: "examples/configs/mnist-cnn.toml",
        overrides: &["train.epochs=3", "data.train_subset=3000"],
        unset: &[],
    },
    Task {
        name: "spam bag of embeddings (Adam)",
        config: "examples/configs/spam-bag.toml",
        overrides: &["train.epochs=4"],
        unset: &["train.early_stopping"],
    },
    Task {
        name: "iris MLP (Adam)",
        config: "examples/configs/iris.toml",
        overrides: &[],
        unset: &["train.early_stopping"],
    },
];

fn load(task: &Task, extra: Option<String>) -> Experiment {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(task.config);
    let mut set: Vec<String> = task.overrides.iter().map(|s| s.to_string()).collect();
    set.extend(extra);
    let unset: Vec<String> = task.unset.iter().map(|s| s.to_string()).collect();
    Experiment::load_edited(&path, &set, &unset).unwrap_or_else(|e| panic!("{}: {e}", task.name))
}

/// The knob in control of the lr: the one-cycle peak when the schedule is OneCycleLR.
fn knob(exp: &Experiment) -> &'static str {
    let one_cycle =
        get_path(&exp.source, "scheduler.type").and_then(|v| v.as_str()) == Some("OneCycleLR");
    if one_cycle {
        "scheduler.max_lr"
    } else {
        "optimizer.lr"
    }
}

/// The best validation loss of a full run at `lr` (+inf when it diverged).
fn score(task: &Task, knob: &str, lr: f64) -> f64 {
    let exp = load(task, Some(format!("{knob}={lr:e}")));
    let ctx = exp.data_context();
    let mut trainer = Trainer::new(exp, &ctx).unwrap();
    let Ok(summary) = trainer.fit() else {
        return f64::INFINITY;
    };
    let best = summary.best.get("val_loss").map_or(f64::INFINITY, |v| v.0);
    if best.is_finite() {
        best
    } else {
        f64::INFINITY
    }
}

/// The grid: decades, then a factor-2 refinement around the best decade. Returns every
/// (lr, score) tried.
fn sweep(task: &Task, knob: &str) -> Vec<(f64, f64)> {
    let mut tried: Vec<(f64, f64)> = (-4..=1)
        .map(|e| 10f64.powi(e))
        .map(|lr| (lr, score(task, knob, lr)))
        .collect();
    let best = best_of(&tried).0;
    for f in [0.25, 0.5, 2.0, 4.0] {
        tried.push((best * f, score(task, knob, best * f)));
    }
    tried
}

fn best_of(tried: &[(f64, f64)]) -> (f64, f64) {
    *tried
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("a non-empty grid")
}

#[test]
#[ignore = "lr-find against a grid sweep of full runs on four tasks: ~45 short runs"]
fn lr_find_agrees_with_a_grid_sweep() {
    tuna::link_all();
    let mut page = String::from(
        "| task | knob | lr-find suggests | grid best | ratio | val_loss at suggestion | best val_loss |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut ratios = Vec::new();
    for task in &TASKS {
        let exp = load(task, None);
        let knob = knob(&exp);
        let ctx = exp.data_context();
        let found = lr_find(&exp, &ctx, &LrFinderConfig::default()).unwrap();
        let suggested = if knob == "scheduler.max_lr" {
            found.suggested_max_lr
        } else {
            found.suggested_lr
        };
        let tried = sweep(task, knob);
        let (best_lr, best) = best_of(&tried);
        let at_suggestion = score(task, knob, suggested);
        let ratio = (suggested / best_lr).max(best_lr / suggested);
        ratios.push((task.name, ratio));
        let line = format!(
            "| {} | `{knob}` | {suggested:.2e} | {best_lr:.2e} | {ratio:.1}× {} | {at_suggestion:.4} | {best:.4} |",
            task.name,
            if suggested < best_lr { "lower" } else { "higher" }
        );
        let grid: Vec<String> = tried
            .iter()
            .map(|(lr, s)| format!("{lr:.1e}: {s:.4}"))
            .collect();
        eprintln!("{line}\n  grid: {}", grid.join(", "));
        let _ = writeln!(page, "{line}");
    }
    println!("{page}");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src/lr_find_benchmark.md");
    std::fs::write(
        &path,
        format!(
            "<!-- written by `cargo test --release --test lr_find_benchmark -- --ignored`; do not edit -->\n{page}"
        ),
    )
    .unwrap();
    let far: Vec<_> = ratios.iter().filter(|(_, r)| *r > 2.0).collect();
    assert!(far.is_empty(), "more than 2x from the grid's best: {far:?}");
}
