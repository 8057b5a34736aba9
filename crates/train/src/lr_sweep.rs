//! The short-run sweep: the LR range test's curve tells where training starts and where it
//! blows up, but not which lr a whole run is best at (on the shipped MNIST MLP the range
//! test's valley is ~10× below the best lr of a grid of full runs). The sweep answers that
//! question the way a practitioner would, only shorter: it trains the experiment itself, with
//! its own optimizer, schedule and regularization, for a fraction of its epochs at each lr of a
//! geometric grid spanning the range test's curve, then refines around the best, and picks the
//! lr with the lowest validation loss.
//!
//! ```no_run
//! use tuna_train::experiment::Experiment;
//! use tuna_train::lr_find::{lr_find, LrFinderConfig};
//! use tuna_train::lr_sweep::{short_run_sweep, SweepConfig};
//!
//! let exp = Experiment::load("examples/configs/mnist-mlp.toml".as_ref(), &[]).unwrap();
//! let ctx = exp.data_context();
//! let range = lr_find(&exp, &ctx, &LrFinderConfig::default()).unwrap();
//! let sweep = short_run_sweep(&exp, &range, &SweepConfig::default(), |_| {}).unwrap();
//! println!("{} = {:.2e}", sweep.knob, sweep.best_lr);
//! ```
//!
//! Which knob is swept follows the experiment: `scheduler.max_lr` under OneCycleLR or
//! CyclicLR (the peak sets the whole schedule), else `optimizer.lr` (other schedules scale
//! it). Short runs keep the schedule's shape: a schedule fitted to `train.epochs` (OneCycleLR)
//! is compressed into the short run's epochs. Early stopping, the test split and the
//! diagnosis signals are off; nothing is written to disk.

use serde_json::Value;

use crate::error::TrainError;
use crate::experiment::{get_path, set_path, unset_path, Experiment};
use crate::lr_find::LrFindResult;
use crate::trainer::Trainer;

/// Settings of the short-run sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepConfig {
    /// Each short run trains `ceil(fraction × train.epochs)` epochs (at least 1; default 0.25).
    pub fraction: f64,
    /// The ratio between neighbouring lrs of the first grid (default √10: two per decade).
    /// The refinement then tries the best lr times and divided by `√step`.
    pub step: f64,
    /// The first grid spans `[valley / margin, stop]`, where `valley` is the range test's
    /// suggestion and `stop` the lr it ended at (where the loss blew up, or its `end_lr`)
    /// (default 3).
    pub margin: f64,
    /// At most this many lrs in the first grid (default 12); a wider span gets a coarser
    /// step.
    pub max_candidates: usize,
    /// Short runs trained at once (default: the available cores), each with
    /// `cores / jobs` kernel threads unless the experiment sets `train.threads`. Results do
    /// not depend on it.
    pub jobs: usize,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            fraction: 0.25,
            step: 10f64.sqrt(),
            margin: 3.0,
            max_candidates: 12,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

impl SweepConfig {
    fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Setup(format!("short-run sweep: {m}")));
        if !(self.fraction > 0.0 && self.fraction <= 1.0) {
            return bad(format!("fraction must be in (0, 1], got {}", self.fraction));
        }
        if !(self.step.is_finite() && self.step > 1.0) {
            return bad(format!("step must be > 1, got {}", self.step));
        }
        if !(self.margin.is_finite() && self.margin >= 1.0) {
            return bad(format!("margin must be >= 1, got {}", self.margin));
        }
        if self.jobs == 0 {
            return bad("jobs must be at least 1".to_string());
        }
        if self.max_candidates < 2 {
            return bad(format!(
                "max_candidates must be at least 2, got {}",
                self.max_candidates
            ));
        }
        Ok(())
    }
}

/// One short run of the sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct ShortRun {
    /// The value of the swept knob.
    pub lr: f64,
    /// The score: the lowest validation loss of the run (the training loss without a
    /// validation split); `+inf` when the run diverged or failed.
    pub score: f64,
    /// Epochs the run completed.
    pub epochs: usize,
}

/// What the sweep tried and found.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepResult {
    /// The swept field: `optimizer.lr` or `scheduler.max_lr`.
    pub knob: String,
    /// Epochs of each short run.
    pub epochs: usize,
    /// Every run, in the order tried (the grid, then the refinement).
    pub runs: Vec<ShortRun>,
    /// The lr of the run with the lowest score.
    pub best_lr: f64,
    /// Its score.
    pub best_score: f64,
    /// What the score is: `val_loss` or `train_loss`.
    pub metric: String,
}

/// The field the sweep varies for this experiment (see the module docs).
pub fn knob(exp: &Experiment) -> &'static str {
    match get_path(&exp.source, "scheduler.type").and_then(Value::as_str) {
        Some("OneCycleLR" | "CyclicLR") => "scheduler.max_lr",
        _ => "optimizer.lr",
    }
}

/// The first grid: geometric from `lo` up to (at most) `hi`, `step` apart, coarsened so at
/// most `max` lrs are tried. `lo >= hi` gives the single lr `lo`.
pub fn grid(lo: f64, hi: f64, step: f64, max: usize) -> Vec<f64> {
    if lo >= hi {
        return vec![lo];
    }
    let span = (hi / lo).ln();
    // The tolerance keeps a span of exactly k steps at k + 1 lrs despite rounding.
    let needed = (span / step.ln() + 1e-9).floor() as usize + 1;
    let count = needed.clamp(1, max.max(1));
    let ratio = if count > 1 && needed > max {
        (span / (count - 1) as f64).exp()
    } else {
        step
    };
    (0..count).map(|i| lo * ratio.powi(i as i32)).collect()
}

/// Trains short runs of `exp` over a grid of lrs placed by the range test `range`, refines
/// around the best, and returns every run; `report` is called after each run.
///
/// # Errors
/// Invalid settings, or an experiment that cannot be built (data, model); a run that diverges
/// only scores `+inf`.
pub fn short_run_sweep(
    exp: &Experiment,
    range: &LrFindResult,
    cfg: &SweepConfig,
    mut report: impl FnMut(&ShortRun),
) -> Result<SweepResult, TrainError> {
    cfg.validate()?;
    let knob = knob(exp);
    let epochs = ((exp.train.epochs as f64 * cfg.fraction).ceil() as usize).max(1);
    let stop = range.lrs.last().copied().unwrap_or(range.suggestion_valley);
    let lo = range.suggestion_valley / cfg.margin;
    let batch = |lrs: &[f64], report: &mut dyn FnMut(&ShortRun)| {
        run_batch(exp, knob, epochs, lrs, cfg.jobs, report)
    };
    let (mut runs, mut metric) = batch(&grid(lo, stop, cfg.step, cfg.max_candidates), &mut report)?;
    if let Some(i) = best_of(&runs) {
        let neighbour = |j: usize| runs.get(j).map(|r: &ShortRun| r.lr);
        let spacing = neighbour(i + 1)
            .or(i.checked_sub(1).and_then(neighbour))
            .map_or(cfg.step, |n| (n / runs[i].lr).max(runs[i].lr / n));
        let (ratio, centre) = (spacing.sqrt(), runs[i].lr);
        let (more, m) = batch(&[centre / ratio, centre * ratio], &mut report)?;
        runs.extend(more);
        metric = metric.or(m);
    }
    let best = best_of(&runs).ok_or_else(|| {
        TrainError::Setup(format!(
            "short-run sweep: every run diverged (lrs {:.2e} to {:.2e}); lower the range test's start_lr",
            lo, stop
        ))
    })?;
    Ok(SweepResult {
        knob: knob.to_string(),
        epochs,
        best_lr: runs[best].lr,
        best_score: runs[best].score,
        runs,
        metric: metric.unwrap_or_else(|| "val_loss".into()),
    })
}

/// Trains a short run at each of `lrs`, `jobs` at a time (each on its own thread with
/// `cores / jobs` kernel threads, unless the experiment sets `train.threads`), calling
/// `report` on this thread as each ends. Returns the runs in the order of `lrs` and the
/// score's metric (`None` if every run diverged). Kernels give bit-identical results for any
/// thread count, so the runs do not depend on `jobs`.
fn run_batch(
    exp: &Experiment,
    knob: &str,
    epochs: usize,
    lrs: &[f64],
    jobs: usize,
    report: &mut dyn FnMut(&ShortRun),
) -> Result<(Vec<ShortRun>, Option<String>), TrainError> {
    let jobs = jobs.clamp(1, lrs.len().max(1));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores / jobs).max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel();
    let mut slots: Vec<Option<ShortRun>> = vec![None; lrs.len()];
    let mut metric = None;
    std::thread::scope(|scope| -> Result<(), TrainError> {
        for _ in 0..jobs {
            let (tx, next) = (tx.clone(), &next);
            scope.spawn(move || {
                tuna_tensor::set_num_threads(threads);
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&lr) = lrs.get(i) else { break };
                    let out = short_run(exp, knob, lr, epochs);
                    let failed = out.is_err();
                    if tx.send((i, out)).is_err() || failed {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, out) in rx {
            let (run, m) = out?;
            report(&run);
            if metric.is_none() {
                metric = m;
            }
            slots[i] = Some(run);
        }
        Ok(())
    })?;
    Ok((slots.into_iter().flatten().collect(), metric))
}

/// The index of the run with the lowest finite score.
fn best_of(runs: &[ShortRun]) -> Option<usize> {
    (0..runs.len())
        .filter(|&i| runs[i].score.is_finite())
        .min_by(|&a, &b| runs[a].score.total_cmp(&runs[b].score))
}

/// The experiment shortened to `epochs` with `knob = lr`, trained from its initial weights,
/// and the metric it was scored on (`None` when it diverged).
fn short_run(
    exp: &Experiment,
    knob: &str,
    lr: f64,
    epochs: usize,
) -> Result<(ShortRun, Option<String>), TrainError> {
    let mut source = exp.source.clone();
    let edit = |e: crate::experiment::ValueError| TrainError::Setup(format!("short run: {e}"));
    set_path(&mut source, knob, Value::from(lr)).map_err(edit)?;
    set_path(&mut source, "train.epochs", Value::from(epochs)).map_err(edit)?;
    set_path(&mut source, "train.test", Value::from(false)).map_err(edit)?;
    set_path(&mut source, "train.signals", Value::from(false)).map_err(edit)?;
    if get_path(&source, "train.early_stopping").is_some() {
        unset_path(&mut source, "train.early_stopping").map_err(edit)?;
    }
    let mut short = Experiment::from_value(source)
        .map_err(|e| TrainError::Setup(format!("short run at {knob} = {lr:e}: {e}")))?;
    short.base_dir.clone_from(&exp.base_dir);
    short.name.clone_from(&exp.name);
    let ctx = short.data_context();
    let mut trainer = Trainer::new(short, &ctx)?;
    let (score, metric, done) = match trainer.fit() {
        Ok(summary) => {
            let metric = summary.monitor.clone();
            let score = summary.best.get(&metric).map_or(f64::INFINITY, |v| v.0);
            (score, Some(metric), summary.epochs_completed)
        }
        Err(e) if diverged(&e) => (f64::INFINITY, None, 0),
        Err(e) => return Err(e),
    };
    let score = if score.is_finite() {
        score
    } else {
        f64::INFINITY
    };
    Ok((
        ShortRun {
            lr,
            score,
            epochs: done,
        },
        metric,
    ))
}

/// Whether a run stopped because its loss or a gradient became non-finite.
fn diverged(e: &TrainError) -> bool {
    match e {
        TrainError::NonFinite(_) => true,
        TrainError::At { error, .. } => diverged(error),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_geometric_and_stays_under_the_top() {
        let g = grid(1e-3, 1.0, 10f64.sqrt(), 12);
        assert_eq!(g.len(), 7, "{g:?}");
        assert!((g[0] - 1e-3).abs() < 1e-15);
        assert!((g[6] - 1.0).abs() < 1e-9, "{g:?}");
        for w in g.windows(2) {
            assert!((w[1] / w[0] - 10f64.sqrt()).abs() < 1e-9);
        }
        // The top is not passed when the span is not a whole number of steps.
        let g = grid(1e-3, 0.5, 10f64.sqrt(), 12);
        assert!(*g.last().unwrap() <= 0.5 && g.len() == 6, "{g:?}");
    }

    #[test]
    fn a_wide_span_gets_a_coarser_step_and_an_empty_one_a_single_lr() {
        let g = grid(1e-8, 10.0, 10f64.sqrt(), 5);
        assert_eq!(g.len(), 5);
        assert!((g[4] / 10.0 - 1.0).abs() < 1e-9, "{g:?}");
        assert_eq!(grid(0.1, 0.05, 2.0, 5), vec![0.1]);
    }

    #[test]
    fn the_best_run_is_the_lowest_finite_score() {
        let run = |lr, score| ShortRun {
            lr,
            score,
            epochs: 1,
        };
        let runs = [
            run(0.1, 0.5),
            run(1.0, f64::INFINITY),
            run(0.01, 0.3),
            run(0.001, 0.9),
        ];
        assert_eq!(best_of(&runs), Some(2));
        assert_eq!(best_of(&[run(1.0, f64::INFINITY)]), None);
    }

    #[test]
    fn settings_are_checked() {
        let ok = SweepConfig::default();
        assert!(ok.validate().is_ok());
        for bad in [
            SweepConfig {
                fraction: 0.0,
                ..ok.clone()
            },
            SweepConfig {
                fraction: 1.5,
                ..ok.clone()
            },
            SweepConfig {
                step: 1.0,
                ..ok.clone()
            },
            SweepConfig {
                margin: 0.5,
                ..ok.clone()
            },
            SweepConfig {
                max_candidates: 1,
                ..ok.clone()
            },
            SweepConfig {
                jobs: 0,
                ..ok.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
