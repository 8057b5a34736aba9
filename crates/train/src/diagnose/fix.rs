//! The fix loop behind `tuna fix`: train, diagnose, apply the primary remedy, and repeat
//! until the run is healthy or the budget is spent. A change that makes the validation metric
//! worse than the best config so far (or than the starting one) by more than its noise is
//! reverted and the next remedy is tried instead, so the loop never ends worse than it
//! started by more than noise.
//!
//! The metric is the validation macro recall (balanced accuracy: every class counts, so a
//! class weighting that rescues a minority class is not mistaken for a loss) for
//! classification, the validation loss otherwise; it is read at the epoch whose weights the
//! run keeps (the restored best epoch, else the last). Its noise is two binomial standard
//! errors over the validation samples (a 3 % relative band for a loss).

use std::path::{Path, PathBuf};

use super::apply::{ApplyError, Origin};
use super::{Diagnosis, Remedy, Severity};
use crate::experiment::Experiment;
use crate::run_dir::RunDir;
use crate::trainer::Trainer;
use crate::TrainError;

/// Settings of the fix loop.
#[derive(Clone, Debug, PartialEq)]
pub struct FixConfig {
    /// The most changes tried after the first run.
    pub budget: usize,
    /// The folder the rounds are written to (`round-0.toml`, `round-0/`, ..., `fixed.toml`).
    pub out: PathBuf,
    /// `--set` overrides applied to every round's training only (`train.epochs=3`).
    pub train_overrides: Vec<String>,
}

/// One training round of the fix loop.
#[derive(Clone, Debug, PartialEq)]
pub struct Round {
    /// 0 for the starting config.
    pub index: usize,
    /// The experiment file of the round.
    pub config: PathBuf,
    /// Its run folder (absent when the experiment was rejected before training).
    pub run: Option<PathBuf>,
    /// The remedy applied to the base round to get this one (none for round 0).
    pub change: Option<Remedy>,
    /// The round the change was applied to.
    pub base: Option<usize>,
    /// The diagnosis of the run (absent when rejected before training).
    pub diagnosis: Option<Diagnosis>,
    /// Why the experiment was rejected before training, if it was.
    pub rejected: Option<String>,
    /// The metric's name (`val_recall`, `val_loss`, ...).
    pub metric: String,
    /// The metric's value (NaN when the run failed).
    pub value: f64,
    /// Whether the round was kept as the new base.
    pub kept: bool,
}

impl Round {
    /// The primary finding's id (`rejected` when the experiment did not train).
    pub fn primary(&self) -> &str {
        match &self.diagnosis {
            Some(d) => d.primary,
            None => "rejected",
        }
    }

    /// The primary finding's severity (severe when rejected).
    pub fn severity(&self) -> Severity {
        self.diagnosis
            .as_ref()
            .map_or(Severity::Severe, |d| d.primary_finding().severity)
    }

    /// Whether nothing mild or worse was found.
    pub fn healthy(&self) -> bool {
        self.diagnosis
            .as_ref()
            .is_some_and(|d| !d.primary_finding().is_problem())
    }

    /// The metric as a score, higher is better (`-loss`; `-inf` for a failed run).
    pub fn score(&self) -> f64 {
        let s = if self.metric.ends_with("loss") {
            -self.value
        } else {
            self.value
        };
        if s.is_finite() {
            s
        } else {
            f64::NEG_INFINITY
        }
    }
}

/// What the fix loop did.
#[derive(Clone, Debug, PartialEq)]
pub struct FixOutcome {
    /// Every round, in order.
    pub rounds: Vec<Round>,
    /// The round whose experiment is the result (`fixed.toml`).
    pub best: usize,
    /// The metric's noise band used to accept or revert a change.
    pub noise: f64,
}

/// Why the fix loop could not run.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    /// An experiment could not be edited or written.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// A round could not be trained for a reason other than the experiment (the run folder).
    #[error(transparent)]
    Train(#[from] TrainError),
}

/// Runs the fix loop on `origin`, calling `report` after every round.
///
/// # Errors
/// The output folder or a round's file cannot be written.
pub fn fix(
    origin: &Origin,
    cfg: &FixConfig,
    mut report: impl FnMut(&Round),
) -> Result<FixOutcome, FixError> {
    std::fs::create_dir_all(&cfg.out).map_err(|e| ApplyError::Io {
        path: cfg.out.clone(),
        reason: e.to_string(),
    })?;
    let mut rounds = vec![train_round(origin, &[], None, 0, cfg)?];
    report(&rounds[0]);
    let mut best = 0;
    let mut tried: Vec<(usize, String)> = Vec::new();
    while rounds.len() <= cfg.budget && !rounds[best].healthy() {
        let Some(remedy) = next_remedy(&rounds[best], best, &tried) else {
            break;
        };
        tried.push((best, remedy.to_cli()));
        let mut chain = remedies_of(&rounds, best);
        chain.push(remedy.clone());
        let mut round = train_round(origin, &chain, Some(best), rounds.len(), cfg)?;
        round.change = Some(remedy);
        let noise = noise(&rounds[best]).or(noise(&round)).unwrap_or(0.0);
        let floor = rounds[0].score().max(rounds[best].score()) - noise;
        round.kept = round.score() >= floor && round.score() > f64::NEG_INFINITY
            || rounds[best].score() == f64::NEG_INFINITY && round.score() > f64::NEG_INFINITY;
        report(&round);
        if round.kept {
            best = round.index;
        }
        rounds.push(round);
    }
    rounds[best].kept = true;
    let chain = remedies_of(&rounds, best);
    let refs: Vec<&Remedy> = chain.iter().collect();
    let head = format!(
        "{} fixed by `tuna fix` in {} round(s): {}",
        origin.file.display(),
        rounds.len(),
        if refs.is_empty() {
            "no change".to_string()
        } else {
            refs.iter()
                .map(|r| r.to_cli())
                .collect::<Vec<_>>()
                .join(" ")
        }
    );
    origin.write_with(&refs, &cfg.out.join("fixed.toml"), &head)?;
    let noise = rounds.iter().find_map(noise).unwrap_or(0.0);
    Ok(FixOutcome {
        rounds,
        best,
        noise,
    })
}

/// The remedies applied from round 0 to round `i`, in order.
fn remedies_of(rounds: &[Round], mut i: usize) -> Vec<Remedy> {
    let mut chain = Vec::new();
    while let (Some(r), Some(b)) = (&rounds[i].change, rounds[i].base) {
        chain.push(r.clone());
        i = b;
    }
    chain.reverse();
    chain
}

/// The first remedy of the round's report (primary finding first) not yet tried from it.
fn next_remedy(round: &Round, index: usize, tried: &[(usize, String)]) -> Option<Remedy> {
    let fresh = |r: &&Remedy| !tried.contains(&(index, r.to_cli()));
    match &round.diagnosis {
        Some(d) => d
            .findings
            .iter()
            .filter(|f| f.is_problem())
            .flat_map(|f| f.remedies.iter())
            .find(fresh)
            .cloned(),
        None => round
            .rejected
            .as_deref()
            .and_then(super::setup::remedy_for)
            .filter(|r| fresh(&r)),
    }
}

/// The noise band of a round's metric (`None` when it has no value).
fn noise(round: &Round) -> Option<f64> {
    if !round.value.is_finite() {
        return None;
    }
    if round.metric.ends_with("loss") {
        return Some((0.03 * round.value.abs()).max(1e-6));
    }
    let n = round
        .diagnosis
        .as_ref()
        .and(round.run.as_ref())
        .and_then(|dir| crate::signals::read_profile(dir))
        .map_or(100, |p| p.validation_samples.max(1));
    let p = round.value.clamp(0.05, 0.95);
    Some((2.0 * (p * (1.0 - p) / n as f64).sqrt()).max(0.005))
}

/// Writes round `index`'s experiment (origin + `chain`), trains it and diagnoses the run.
fn train_round(
    origin: &Origin,
    chain: &[Remedy],
    base: Option<usize>,
    index: usize,
    cfg: &FixConfig,
) -> Result<Round, FixError> {
    let config = cfg.out.join(format!("round-{index}.toml"));
    let refs: Vec<&Remedy> = chain.iter().collect();
    origin.write_with(&refs, &config, &format!("tuna fix, round {index}"))?;
    let mut round = Round {
        index,
        config: config.clone(),
        run: None,
        change: None,
        base,
        diagnosis: None,
        rejected: None,
        metric: String::new(),
        value: f64::NAN,
        kept: index == 0,
    };
    let dir = cfg.out.join(format!("round-{index}"));
    match build(&config, &cfg.train_overrides, &dir) {
        Err(e) => round.rejected = Some(e.to_string()),
        Ok(mut trainer) => {
            let _ = trainer.fit();
            round.run = Some(dir.clone());
            round.diagnosis = Diagnosis::from_run_dir(&dir).ok();
            (round.metric, round.value) = metric_of(&dir);
        }
    }
    Ok(round)
}

/// A trainer for `config` (with the measurement overrides) writing into `dir`.
fn build(config: &Path, overrides: &[String], dir: &Path) -> Result<Trainer, TrainError> {
    let mut set = overrides.to_vec();
    let exp = Experiment::load_edited(config, &set, &[])?;
    let classification = !matches!(
        exp.loss.name(),
        "MSELoss" | "L1Loss" | "SmoothL1Loss" | "HuberLoss" | "PoissonNLLLoss" | "GaussianNLLLoss"
    );
    let exp = if classification && !exp.train.metrics.iter().any(|m| m == "recall") {
        let mut metrics = exp.train.metrics.clone();
        metrics.push("recall".into());
        set.push(format!(
            "train.metrics=[{}]",
            metrics
                .iter()
                .map(|m| format!("{m:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Experiment::load_edited(config, &set, &[])?
    } else {
        exp
    };
    let ctx = exp.data_context();
    let mut trainer = Trainer::new(exp, &ctx)?;
    let run = RunDir::create(dir)?;
    run.write_origin(config, &[])?;
    trainer.set_run_dir(run)?;
    Ok(trainer)
}

/// The metric the loop compares: validation macro recall for classification, else the
/// validation (or training) loss, at the epoch whose weights the run keeps.
fn metric_of(dir: &Path) -> (String, f64) {
    let run = RunDir::open(dir).ok();
    let records = run
        .as_ref()
        .and_then(|r| r.read_records().ok())
        .unwrap_or_default();
    let summary = run.as_ref().and_then(|r| r.read_summary().ok());
    let failed = run.as_ref().and_then(|r| r.read_failure()).is_some();
    let keep = match &summary {
        Some(s) if s.restored_best => s.best_epoch,
        _ => records.last().map(|r| r.epoch),
    };
    let key = ["val_recall", "val_loss", "train_loss"]
        .into_iter()
        .find(|k| records.iter().any(|r| r.get(k).is_some()))
        .unwrap_or("val_loss");
    let value = records
        .iter()
        .find(|r| Some(r.epoch) == keep)
        .and_then(|r| r.get(key))
        .filter(|_| !failed)
        .unwrap_or(f64::NAN);
    (key.to_string(), value)
}
