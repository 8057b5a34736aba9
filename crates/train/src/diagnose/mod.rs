//! Automatic diagnosis of a training run: "why is my model bad, why is training slow, is it
//! over-fitting?" answered from a run folder's `metrics.jsonl`, `signals.jsonl`,
//! `data_profile.json`, `config.toml` and `failure.json`.
//!
//! [`diagnose`] runs every detector over the epoch records, the training signals, the data
//! profile and the experiment, then puts the **root cause first**: a finding that explains
//! others (a learning rate too high explains the dead ReLUs and the divergence it caused;
//! unscaled targets explain the huge gradients) takes them under it as symptoms, and the
//! report leads with one primary finding. Each finding has a stable id, a [`Severity`] that
//! reflects what the problem costs, the evidence (numbers and epochs) and [`Remedy`]s: changes
//! to the experiment file as `--set PATH=VALUE` / `--unset PATH`, valid for that experiment's
//! plugins, never pulling a setting both ways within one report. When no finding is `mild` or
//! worse, a `healthy` finding says so.
//!
//! Detectors look at trends over windows of epochs (smoothed curves), never at a single
//! epoch-to-epoch comparison, so that ordinary noise does not produce findings.
//!
//! ```
//! use tuna_train::diagnose::{diagnose, RunContext};
//! use tuna_train::EpochRecord;
//!
//! let records: Vec<EpochRecord> = (1..=10)
//!     .map(|e| {
//!         let mut r = EpochRecord::new(e);
//!         r.set("train_loss", 0.2 + 2.0 * (-(e as f64) / 3.0).exp());
//!         r.set("val_loss", 0.25 + 2.0 * (-(e as f64) / 3.0).exp());
//!         r
//!     })
//!     .collect();
//! let d = diagnose(&records, &[], &RunContext::default());
//! assert_eq!(d.primary, "healthy");
//! assert!(!d.primary_finding().is_problem());
//! ```

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::record::EpochRecord;
use crate::signals::EpochSignals;

mod apply;
mod cause;
mod context;
mod curves;
mod data;
pub mod fix;
mod fixes;
mod gradients;
mod plot;
mod remedy;
pub mod setup;
mod timing;

pub use apply::{ApplyError, Origin};
pub use cause::{explains, PRIORITY};
pub use context::{load_run, LayerInfo, RunContext, StopPoint};
pub use plot::annotated_curves;
pub use remedy::{toml_value, Change, Direction, Knob, Remedy};

/// Why a run folder could not be diagnosed.
#[derive(Debug, thiserror::Error)]
pub enum DiagnoseError {
    /// The folder is not a run folder (no readable `config.toml`).
    #[error("{}: {reason} (not a Tuna run folder?)", path.display())]
    NotARun {
        /// The file that was looked for.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A file of the run folder does not parse.
    #[error("{}: {reason}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// How much a finding matters: what the problem costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing to fix.
    Info,
    /// A small problem; fixing it may help a little.
    Mild,
    /// A problem that costs accuracy or time.
    Warning,
    /// The run is broken (diverged, or learned nothing).
    Severe,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Mild => "mild",
            Severity::Warning => "warning",
            Severity::Severe => "severe",
        })
    }
}

/// A symptom a root-cause finding explains (`dead_units` under `lr_too_high`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Symptom {
    /// The id the symptom has as a finding of its own.
    pub id: &'static str,
    /// One line.
    pub title: String,
    /// Its evidence.
    pub evidence: Vec<String>,
}

/// One diagnosis: what is wrong, the evidence, what it explains, and what to change in the
/// experiment file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// Stable identifier: root causes `loss_mismatch`, `nonfinite_data`, `unscaled_targets`,
    /// `unscaled_inputs`, `lr_too_high`, `exploding_gradients`, `saturating_activations`,
    /// `vanishing_gradients`, `lr_too_low`, `label_noise`, `dead_units`, `class_imbalance`,
    /// `model_too_small`, `training_too_short`, `overfitting`; speed `input_bound`,
    /// `slow_layer`, `slow_step`; symptoms `divergence`; and `healthy`, `incomplete`.
    pub id: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// One line.
    pub title: String,
    /// The numbers and epochs behind it.
    pub evidence: Vec<String>,
    /// Other findings this one explains, listed under it instead of on their own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub explains: Vec<Symptom>,
    /// Changes to the experiment file, the first being the one to try first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remedies: Vec<Remedy>,
    /// The remedies as text (`--set ...: why`), plus advice no setting expresses.
    pub recommendations: Vec<String>,
    /// Epochs worth marking on a plot (`best epoch`, `overfitting starts`), as (epoch, label).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<(usize, String)>,
}

impl Finding {
    pub(crate) fn new(id: &'static str, severity: Severity, title: impl Into<String>) -> Self {
        Finding {
            id,
            severity,
            title: title.into(),
            evidence: Vec::new(),
            explains: Vec::new(),
            remedies: Vec::new(),
            recommendations: Vec::new(),
            marks: Vec::new(),
        }
    }

    pub(crate) fn evidence(mut self, line: impl Into<String>) -> Self {
        self.evidence.push(line.into());
        self
    }

    /// Adds a remedy (ignored when `None`: the experiment has no setting for it).
    pub(crate) fn remedy(mut self, r: Option<Remedy>) -> Self {
        if let Some(r) = r {
            if !r.changes.is_empty() && !self.remedies.iter().any(|x| x.changes == r.changes) {
                self.remedies.push(r);
            }
        }
        self
    }

    /// Advice that no setting expresses (shown after the remedies).
    pub(crate) fn note(mut self, line: impl Into<String>) -> Self {
        self.recommendations.push(line.into());
        self
    }

    /// Whether this finding is a problem (mild or worse).
    pub fn is_problem(&self) -> bool {
        self.severity >= Severity::Mild
    }

    fn as_symptom(&self) -> Symptom {
        Symptom {
            id: self.id,
            title: self.title.clone(),
            evidence: self.evidence.clone(),
        }
    }
}

/// All findings of a run: the primary finding first, then independent findings, most severe
/// first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnosis {
    /// The id of the primary finding (`healthy` when nothing is wrong).
    pub primary: &'static str,
    /// The findings (`healthy` alone, plus `info` ones, when nothing is wrong).
    pub findings: Vec<Finding>,
    /// The epoch with the lowest validation loss (else training loss), if any.
    pub best_epoch: Option<usize>,
}

impl Diagnosis {
    /// The finding ids, in order.
    pub fn ids(&self) -> Vec<&'static str> {
        self.findings.iter().map(|f| f.id).collect()
    }

    /// The finding with `id`, if present (as a finding of its own, not as a symptom).
    pub fn get(&self, id: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.id == id)
    }

    /// Whether `id` was found, as a finding or as a symptom under one.
    pub fn mentions(&self, id: &str) -> bool {
        self.findings
            .iter()
            .any(|f| f.id == id || f.explains.iter().any(|s| s.id == id))
    }

    /// The primary finding.
    pub fn primary_finding(&self) -> &Finding {
        &self.findings[0]
    }

    /// Every remedy of the report, in order.
    pub fn remedies(&self) -> impl Iterator<Item = &Remedy> {
        self.findings.iter().flat_map(|f| f.remedies.iter())
    }

    /// The first remedy of the primary finding: what `tuna diagnose --apply` and `tuna fix`
    /// apply.
    pub fn primary_remedy(&self) -> Option<&Remedy> {
        self.findings.first().and_then(|f| f.remedies.first())
    }

    /// Diagnoses a run folder (see [`load_run`]).
    ///
    /// # Errors
    /// The folder has no `config.toml`, or a file does not parse.
    pub fn from_run_dir(path: &Path) -> Result<Diagnosis, DiagnoseError> {
        let (records, signals, context) = load_run(path)?;
        Ok(diagnose(&records, &signals, &context))
    }

    /// The human-readable report: the primary finding with the symptoms it explains, then the
    /// others; remedies as `--set` / `--unset` arguments.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, f) in self.findings.iter().enumerate() {
            let lead = if i == 0 && f.is_problem() {
                "cause "
            } else {
                ""
            };
            out.push_str(&format!("[{}] {lead}{}: {}\n", f.severity, f.id, f.title));
            for e in &f.evidence {
                out.push_str(&format!("    {e}\n"));
            }
            for s in &f.explains {
                out.push_str(&format!("  explains {}: {}\n", s.id, s.title));
                for e in s.evidence.iter().take(2) {
                    out.push_str(&format!("      {e}\n"));
                }
            }
            for (k, r) in f.remedies.iter().enumerate() {
                let head = if k == 0 { "fix:" } else { " or:" };
                out.push_str(&format!("  {head} {}   ({})\n", r.to_cli(), r.why));
            }
            for r in f.recommendations.iter().skip(f.remedies.len()) {
                out.push_str(&format!("  note: {r}\n"));
            }
        }
        out
    }
}

/// Runs every detector and puts the root cause first. `records` and `signals` are per epoch,
/// in order.
pub fn diagnose(
    records: &[EpochRecord],
    signals: &[EpochSignals],
    context: &RunContext,
) -> Diagnosis {
    let view = curves::View::new(records, signals, context);
    let mut found = Vec::new();
    found.extend(data::detect(&view));
    found.extend(curves::detect(&view));
    found.extend(gradients::detect(&view));
    found.extend(timing::detect(signals, context));
    let mut findings = cause::resolve(found, context.is_recurrent());
    for f in &mut findings {
        let notes = std::mem::take(&mut f.recommendations);
        f.recommendations = f
            .remedies
            .iter()
            .map(|r| format!("{}: {}", r.to_cli(), r.why))
            .chain(notes)
            .collect();
    }
    if records.is_empty() && !findings.iter().any(Finding::is_problem) {
        let mut f = Finding::new(
            "incomplete",
            Severity::Warning,
            "no epoch finished: nothing to diagnose from the curves",
        );
        if let Some(e) = &context.error {
            f = f.evidence(format!("the run ended: {e}"));
        }
        findings.insert(0, f);
    } else if !findings.iter().any(Finding::is_problem) {
        findings.insert(0, healthy(records));
    }
    Diagnosis {
        primary: findings[0].id,
        findings,
        best_epoch: curves::best_epoch(records),
    }
}

fn healthy(records: &[EpochRecord]) -> Finding {
    let mut h = Finding::new(
        "healthy",
        Severity::Info,
        "nothing looks wrong with this run",
    );
    if let Some(last) = records.last() {
        let mut parts = vec![format!("{} epochs", records.len())];
        for key in ["train_loss", "val_loss", "val_accuracy"] {
            if let Some(v) = last.get(key) {
                parts.push(format!("final {key} {}", curves::fmt(v)));
            }
        }
        h = h.evidence(parts.join(", "));
    }
    h
}
