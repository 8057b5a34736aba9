//! Does `tuna lr-find` agree with reality? On six tasks (the MNIST MLP and CNN, the spam
//! bag-of-embeddings and names GRU text models, the iris and customers tables) each of its
//! two suggestions — `optimizer.lr` for a constant lr, `scheduler.max_lr` for a one-cycle
//! schedule — is compared with the best lr of a grid sweep of full (shortened) runs with that
//! schedule: decades from 1e-4 to 10, then ×¼, ×½, ×2, ×4 around the best decade. A run's
//! score is its best validation loss (a diverged run scores +inf). The names and customers
//! tasks were added after the suggestion rules were last changed and are only scored.
//!
//! ```text
//! cargo test --release --test lr_find_benchmark -- --ignored --nocapture
//! ```
//!
//! The same comparison is made for the short-run sweep (`tuna lr-find --sweep`,
//! `tuna_train::lr_sweep`), which trains a quarter of the epochs at each lr of a grid placed
//! by the range test; its settings were fixed before any task was run, so every task is
//! unseen for it. Its cost is given in full runs of the task (the sum of its short runs'
//! epochs over the task's epochs).
//!
//! The table goes to `docs/src/lr_find_benchmark.md`, which the lr-find chapter includes.

use std::fmt::Write as _;
use std::path::Path;

use tuna::train::experiment::{get_path, Experiment};
use tuna::train::lr_find::{lr_find, LrFindResult, LrFinderConfig};
use tuna::train::lr_sweep::{short_run_sweep, SweepConfig};
use tuna::train::Trainer;

/// One task: an example experiment, the overrides that shorten it, and whether it is held
/// out (added after the rules were chosen, only scored).
struct Task {
    name: &'static str,
    config: &'static str,
    overrides: &'static [&'static str],
    unset: &'static [&'static str],
    held_out: bool,
}

const TASKS: [Task; 6] = [
    Task {
        name: "MNIST MLP",
        config: "examples/configs/mnist-mlp.toml",
        overrides: &["train.epochs=5", "data.train_subset=4000"],
        unset: &[],
        held_out: false,
    },
    Task {
        name: "MNIST CNN",
        config: "examples/configs/mnist-cnn.toml",
        overrides: &["train.epochs=3", "data.train_subset=3000"],
        unset: &[],
        held_out: false,
    },
    Task {
        name: "spam bag of embeddings",
        config: "examples/configs/spam-bag.toml",
        overrides: &["train.epochs=4"],
        unset: &["train.early_stopping"],
        held_out: false,
    },
    Task {
        name: "iris MLP",
        config: "examples/configs/iris.toml",
        overrides: &[],
        unset: &["train.early_stopping"],
        held_out: false,
    },
    Task {
        name: "names GRU",
        config: "examples/configs/names-gru.toml",
        overrides: &["train.epochs=4"],
        unset: &["train.early_stopping"],
        held_out: true,
    },
    Task {
        name: "customers table (categorical, missing values)",
        config: "docs/scripts/customers.toml",
        overrides: &["train.epochs=30"],
        unset: &["train.early_stopping"],
        held_out: true,
    },
];

/// How the lr is scheduled in a sweep: constant (`optimizer.lr`, no scheduler) or one cycle
/// (`scheduler.max_lr` of OneCycleLR).
#[derive(Clone, Copy, PartialEq)]
enum Schedule {
    Constant,
    OneCycle,
}

impl Schedule {
    fn knob(self) -> &'static str {
        match self {
            Schedule::Constant => "optimizer.lr",
            Schedule::OneCycle => "scheduler.max_lr",
        }
    }

    /// The edits that give the task this schedule (its lr set to `lr`).
    fn edits(self, task: &Task, lr: f64) -> (Vec<String>, Vec<String>) {
        match self {
            Schedule::Constant => (
                vec![format!("optimizer.lr={lr:e}")],
                if task.has_scheduler() {
                    vec!["scheduler".into()]
                } else {
                    Vec::new()
                },
            ),
            Schedule::OneCycle => (
                vec![format!(
                    "scheduler={{ type = \"OneCycleLR\", max_lr = {lr:e} }}"
                )],
                Vec::new(),
            ),
        }
    }
}

impl Task {
    fn has_scheduler(&self) -> bool {
        get_path(&load(self, &[], &[]).source, "scheduler").is_some()
    }
}

fn load(task: &Task, set: &[String], unset: &[String]) -> Experiment {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(task.config);
    let mut all_set: Vec<String> = task.overrides.iter().map(|s| s.to_string()).collect();
    all_set.extend(set.iter().cloned());
    let mut all_unset: Vec<String> = task.unset.iter().map(|s| s.to_string()).collect();
    all_unset.extend(unset.iter().cloned());
    Experiment::load_edited(&path, &all_set, &all_unset)
        .unwrap_or_else(|e| panic!("{}: {e}", task.name))
}

/// The best validation loss of a full run at `lr` (+inf when it diverged).
fn score(task: &Task, schedule: Schedule, lr: f64) -> f64 {
    let (set, unset) = schedule.edits(task, lr);
    let exp = load(task, &set, &unset);
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
fn sweep(task: &Task, schedule: Schedule) -> Vec<(f64, f64)> {
    let mut tried: Vec<(f64, f64)> = (-4..=1)
        .map(|e| 10f64.powi(e))
        .map(|lr| (lr, score(task, schedule, lr)))
        .collect();
    let best = best_of(&tried).0;
    for f in [0.25, 0.5, 2.0, 4.0] {
        tried.push((best * f, score(task, schedule, best * f)));
    }
    tried
}

fn best_of(tried: &[(f64, f64)]) -> (f64, f64) {
    *tried
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("a non-empty grid")
}

/// The short-run sweep's pick for `schedule` (the task edited to that schedule) and its cost
/// in full runs of the task.
fn sweep_pick(task: &Task, schedule: Schedule, range: &LrFindResult) -> (f64, f64) {
    let (set, unset) = schedule.edits(task, range.suggested_lr);
    let exp = load(task, &set, &unset);
    let r = short_run_sweep(&exp, range, &SweepConfig::default(), |_| {}).unwrap();
    let runs: Vec<String> = r
        .runs
        .iter()
        .map(|run| format!("{:.1e}: {:.4}", run.lr, run.score))
        .collect();
    eprintln!(
        "{} {} short runs of {} epoch(s): {}",
        task.name,
        r.knob,
        r.epochs,
        runs.join(", ")
    );
    let epochs: usize = r.runs.iter().map(|run| run.epochs.max(1)).sum();
    (r.best_lr, epochs as f64 / exp.train.epochs as f64)
}

/// How far `suggested` is from `best` (≥ 1) and in which direction.
fn ratio(suggested: f64, best: f64) -> (f64, &'static str) {
    let r = (suggested / best).max(best / suggested);
    (r, if suggested < best { "lower" } else { "higher" })
}

/// One row of the table, and the ratios of the range test's and the sweep's suggestions to
/// the grid's best.
fn compare(
    task: &Task,
    schedule: Schedule,
    suggested: f64,
    range: &LrFindResult,
) -> (String, f64, f64) {
    let tried = sweep(task, schedule);
    let (best_lr, best) = best_of(&tried);
    let at_suggestion = score(task, schedule, suggested);
    let (swept, cost) = sweep_pick(task, schedule, range);
    let at_swept = score(task, schedule, swept);
    let grid: Vec<String> = tried
        .iter()
        .map(|(lr, s)| format!("{lr:.1e}: {s:.4}"))
        .collect();
    eprintln!(
        "{} {}: grid {}",
        task.name,
        schedule.knob(),
        grid.join(", ")
    );
    let (r1, d1) = ratio(suggested, best_lr);
    let (r2, d2) = ratio(swept, best_lr);
    let row = format!(
        "| {} | {} | `{}` | {best_lr:.2e} | {best:.4} | {suggested:.2e} | {r1:.1}× {d1} | {at_suggestion:.4} | {swept:.2e} | {r2:.1}× {d2} | {at_swept:.4} | {cost:.1} |",
        task.name,
        if task.held_out { "held out" } else { "seen" },
        schedule.knob(),
    );
    (row, r1, r2)
}

#[test]
#[ignore = "lr-find against grid sweeps of full runs on six tasks: ~130 short runs plus the short-run sweeps"]
fn lr_find_agrees_with_a_grid_sweep() {
    tuna::link_all();
    let mut page = String::from(
        "| task | split (range test) | knob | grid best | its val_loss | range test suggests | ratio | val_loss there | short-run sweep picks | ratio | val_loss there | sweep cost (full runs) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let (mut far, mut range_far) = (Vec::new(), Vec::new());
    for task in &TASKS {
        let exp = load(task, &[], &[]);
        let ctx = exp.data_context();
        let found = lr_find(&exp, &ctx, &LrFinderConfig::default()).unwrap();
        let at_min = found
            .lrs
            .iter()
            .zip(&found.smoothed)
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map_or(f64::NAN, |(lr, _)| *lr);
        eprintln!(
            "{}: valley {:.2e}, steepest {:.2e}, lowest loss at {at_min:.2e}",
            task.name, found.suggestion_valley, found.suggestion_steepest
        );
        for (schedule, suggested) in [
            (Schedule::Constant, found.suggested_lr),
            (Schedule::OneCycle, found.suggested_max_lr),
        ] {
            let (row, range_ratio, sweep_ratio) = compare(task, schedule, suggested, &found);
            eprintln!("{row}");
            let _ = writeln!(page, "{row}");
            let which = format!("{} {}", task.name, schedule.knob());
            if range_ratio > 2.0 {
                range_far.push(which.clone());
            }
            if sweep_ratio > 2.0 {
                far.push(which);
            }
        }
    }
    let _ = writeln!(
        page,
        "\nMore than 2× from the grid's best: range test {} of {}, short-run sweep {} of {}.",
        range_far.len(),
        2 * TASKS.len(),
        far.len(),
        2 * TASKS.len()
    );
    println!("{page}");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src/lr_find_benchmark.md");
    std::fs::write(
        &path,
        format!(
            "<!-- written by `cargo test --release --test lr_find_benchmark -- --ignored`; do not edit -->\n{page}"
        ),
    )
    .unwrap();
    assert!(
        far.is_empty(),
        "short-run sweep more than 2x from the grid's best: {far:?}"
    );
}
