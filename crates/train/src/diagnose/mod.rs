//! Automatic diagnosis of a training run: "why is my model bad, why is training slow, is it
//! over-fitting?" answered from a run folder's `metrics.jsonl` and `signals.jsonl`.
//!
//! [`diagnose`] runs every detector over the epoch records and training signals and returns
//! [`Finding`]s, each with a stable id, a [`Severity`], the evidence (numbers and epochs) and
//! recommendations phrased as changes to the experiment file. When no finding is `mild` or
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
//! assert_eq!(d.ids(), vec!["healthy"]);
//! ```

use std::path::Path;

use serde::Serialize;

use crate::record::EpochRecord;
use crate::signals::{read_signals, EpochSignals};

mod curves;
mod gradients;
mod plot;
mod timing;

pub use plot::annotated_curves;

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing to fix.
    Info,
    /// A small problem; fixing it may help a little.
    Mild,
    /// A problem that costs accuracy or time.
    Warning,
    /// The run is broken.
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

/// One diagnosis: what is wrong, the evidence, and what to change in the experiment file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// Stable identifier: `overfitting`, `underfitting`, `divergence`, `lr_too_high`,
    /// `lr_too_low`, `exploding_gradients`, `vanishing_gradients`, `dead_units`,
    /// `input_bound`, `slow_step`, `healthy` (and `incomplete`: no epoch finished).
    pub id: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// One line.
    pub title: String,
    /// The numbers and epochs behind it.
    pub evidence: Vec<String>,
    /// Changes to the experiment file to try.
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
            recommendations: Vec::new(),
            marks: Vec::new(),
        }
    }

    pub(crate) fn evidence(mut self, line: impl Into<String>) -> Self {
        self.evidence.push(line.into());
        self
    }

    pub(crate) fn recommend(mut self, line: impl Into<String>) -> Self {
        self.recommendations.push(line.into());
        self
    }
}

/// One layer of a `Sequential` model: its index in `model.layers` and type.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LayerInfo {
    /// Index in `model.layers`.
    pub index: usize,
    /// Layer type (`Linear`, `ReLU`, `Dropout`, ...).
    pub kind: String,
    /// `out_features` / `out_channels`, if the layer has one.
    pub width: Option<usize>,
}

/// What recommendations need to know about the experiment and how the run ended.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunContext {
    /// The optimizer type (`SGD`, `Adam`, ...).
    pub optimizer: Option<String>,
    /// `optimizer.lr`.
    pub lr: Option<f64>,
    /// The scheduler type, if any.
    pub scheduler: Option<String>,
    /// `[[regularizers]]` present, or a non-zero `optimizer.weight_decay`.
    pub has_regularization: bool,
    /// The model has a Dropout layer with p > 0.
    pub has_dropout: bool,
    /// `train.early_stopping` is set.
    pub has_early_stopping: bool,
    /// `model.layers`, for a Sequential model.
    pub layers: Vec<LayerInfo>,
    /// Trainable scalars.
    pub parameters: Option<usize>,
    /// `train.epochs`.
    pub epochs_planned: Option<usize>,
    /// The error the run ended with (a non-finite loss), if it did.
    pub error: Option<String>,
}

impl RunContext {
    /// The context of a resolved experiment given as JSON (`Experiment::resolved`, or a run
    /// folder's `config.toml` parsed to JSON).
    pub fn from_config(config: &serde_json::Value) -> RunContext {
        let f = |v: &serde_json::Value| v.as_f64();
        let opt = &config["optimizer"];
        let layers: Vec<LayerInfo> = config["model"]["layers"]
            .as_array()
            .map(|ls| {
                ls.iter()
                    .enumerate()
                    .map(|(i, l)| LayerInfo {
                        index: i,
                        kind: l["type"].as_str().unwrap_or("?").to_string(),
                        width: l["out_features"]
                            .as_u64()
                            .or_else(|| l["out_channels"].as_u64())
                            .map(|w| w as usize),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let has_dropout = config["model"]["layers"]
            .as_array()
            .map(|ls| {
                ls.iter().any(|l| {
                    l["type"].as_str().is_some_and(|t| t.contains("Dropout"))
                        && l["p"].as_f64().unwrap_or(0.5) > 0.0
                })
            })
            .unwrap_or(false);
        let weight_decay = f(&opt["weight_decay"]).unwrap_or(0.0);
        let has_regs = config["regularizers"]
            .as_array()
            .is_some_and(|r| !r.is_empty());
        RunContext {
            optimizer: opt["type"].as_str().map(str::to_string),
            lr: f(&opt["lr"]),
            scheduler: config["scheduler"]["type"].as_str().map(str::to_string),
            has_regularization: has_regs || weight_decay > 0.0,
            has_dropout,
            has_early_stopping: config["train"]["early_stopping"].is_object(),
            layers,
            parameters: None,
            epochs_planned: config["train"]["epochs"].as_u64().map(|e| e as usize),
            error: None,
        }
    }
}

/// All findings of a run, most severe first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnosis {
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

    /// The finding with `id`, if present.
    pub fn get(&self, id: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.id == id)
    }

    /// Diagnoses a run folder: `metrics.jsonl`, `signals.jsonl`, `config.toml` and
    /// `summary.json` (a missing summary with a NaN last loss, or fewer epochs than planned,
    /// means the run stopped on an error).
    ///
    /// # Errors
    /// The folder has no `config.toml`, or a file does not parse.
    pub fn from_run_dir(path: &Path) -> Result<Diagnosis, String> {
        let (records, signals, context) = load_run(path)?;
        Ok(diagnose(&records, &signals, &context))
    }

    /// The human-readable report: one block per finding.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            out.push_str(&format!("[{}] {}: {}\n", f.severity, f.id, f.title));
            for e in &f.evidence {
                out.push_str(&format!("    {e}\n"));
            }
            for r in &f.recommendations {
                out.push_str(&format!("  try: {r}\n"));
            }
        }
        out
    }
}

/// Reads what [`diagnose`] needs from a run folder.
///
/// # Errors
/// The folder has no `config.toml`, or a file does not parse.
pub fn load_run(path: &Path) -> Result<(Vec<EpochRecord>, Vec<EpochSignals>, RunContext), String> {
    let config_path = path.join("config.toml");
    let text = std::fs::read_to_string(&config_path)
        .map_err(|e| format!("{}: {e} (not a Tuna run folder?)", config_path.display()))?;
    let config: serde_json::Value =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", config_path.display()))?;
    let mut context = RunContext::from_config(&config);
    let records =
        crate::run_dir::read_records(&path.join("metrics.jsonl")).map_err(|e| e.to_string())?;
    let signals = read_signals(&path.join("signals.jsonl"))?;
    let summary = std::fs::read_to_string(path.join("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<crate::summary::RunSummary>(&t).ok());
    let failure = crate::run_dir::RunDir::open(path)
        .ok()
        .and_then(|r| r.read_failure());
    if failure.is_some() {
        context.error = failure;
        return Ok((records, signals, context));
    }
    match &summary {
        Some(s) => {
            context.parameters = Some(s.parameters);
            context.epochs_planned = Some(s.epochs_planned);
        }
        None => {
            let last_nan = records
                .last()
                .and_then(|r| r.get("train_loss"))
                .is_some_and(|l| !l.is_finite());
            let short = context.epochs_planned.is_some_and(|p| records.len() < p);
            if last_nan || short {
                context.error = Some(if last_nan {
                    "the loss became non-finite".into()
                } else {
                    format!(
                        "it stopped after {} of {} epochs without a summary (an error, or still running)",
                        records.len(),
                        context.epochs_planned.unwrap_or(0)
                    )
                });
            }
        }
    }
    Ok((records, signals, context))
}

/// Runs every detector. `records` and `signals` are per epoch, in order.
pub fn diagnose(
    records: &[EpochRecord],
    signals: &[EpochSignals],
    context: &RunContext,
) -> Diagnosis {
    let mut findings = Vec::new();
    let diverged = curves::divergence(records, signals, context);
    let diverged_now = diverged.is_some();
    findings.extend(diverged);
    if !diverged_now {
        findings.extend(curves::lr_too_high(records, signals, context));
    }
    let low = curves::lr_too_low(records, signals, context);
    let lr_low = low.is_some();
    findings.extend(low);
    if !diverged_now {
        findings.extend(curves::overfitting(records, context));
        findings.extend(curves::underfitting(records, signals, context, lr_low));
    }
    let grads = gradients::gradients(signals, context, diverged_now);
    if grads.iter().any(|f| f.id == "vanishing_gradients") {
        if let Some(u) = findings.iter_mut().find(|f| f.id == "underfitting") {
            u.title = "under-fitting because the gradients vanish before the first layers (see vanishing_gradients)".into();
            u.recommendations = vec!["fix the vanishing gradients first (see below)".into()];
            u.evidence.retain(|e| !e.contains("capacity"));
        }
    }
    findings.extend(grads);
    findings.extend(gradients::dead_units(signals, context));
    findings.extend(timing::timing(signals));
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    if records.is_empty() {
        let mut f = Finding::new(
            "incomplete",
            Severity::Warning,
            "no epoch finished: nothing to diagnose from the curves",
        );
        if let Some(e) = &context.error {
            f = f.evidence(format!("the run ended: {e}"));
        }
        findings.insert(0, f);
    } else if findings.iter().all(|f| f.severity <= Severity::Info) {
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
        findings.insert(0, h);
    }
    Diagnosis {
        findings,
        best_epoch: curves::best_epoch(records),
    }
}
