//! [`RunContext`]: what the diagnosis knows about a run besides its curves — the experiment
//! (which plugins, which settings are in control), the data profile, the task, and how the run
//! ended — and [`load_run`], which reads all of it from a run folder.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::DiagnoseError;
use crate::record::EpochRecord;
use crate::signals::{read_profile, read_signals, DataProfile, EpochSignals};

/// One layer of a `Sequential` model: its index in `model.layers`, type and spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LayerInfo {
    /// Index in `model.layers`.
    pub index: usize,
    /// Layer type (`Linear`, `ReLU`, `Dropout`, ...).
    pub kind: String,
    /// `out_features` / `out_channels` / `hidden_size`, if the layer has one.
    pub width: Option<usize>,
    /// The layer's spec as written in the experiment (`{"type": "Linear", ...}`).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub spec: Value,
}

/// Where a run that stopped on a non-finite loss or gradient stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StopPoint {
    /// The epoch (from 1).
    pub epoch: usize,
    /// The batch within the epoch (from 0).
    pub batch: usize,
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
    /// `scheduler.max_lr` (OneCycleLR, CyclicLR): the lr setting in control under them.
    pub max_lr: Option<f64>,
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
    /// Where a non-finite loss or gradient stopped the run (from the error).
    pub stopped_at: Option<StopPoint>,
    /// The whole experiment as recorded in the run folder (`config.toml` as JSON).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub config: Value,
    /// What the model predicts (`run.json`'s task).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<tuna_data::Task>,
    /// The training split measured before training (`data_profile.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<DataProfile>,
}

fn layer_width(l: &Value) -> Option<usize> {
    [
        "out_features",
        "out_channels",
        "hidden_size",
        "embedding_dim",
    ]
    .iter()
    .find_map(|k| l[*k].as_u64())
    .map(|w| w as usize)
}

impl RunContext {
    /// The context of a resolved experiment given as JSON (`Experiment::resolved`, or a run
    /// folder's `config.toml` parsed to JSON).
    pub fn from_config(config: &Value) -> RunContext {
        let opt = &config["optimizer"];
        let layer_specs = config["model"]["layers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let layers: Vec<LayerInfo> = layer_specs
            .iter()
            .enumerate()
            .map(|(i, l)| LayerInfo {
                index: i,
                kind: l["type"].as_str().unwrap_or("?").to_string(),
                width: layer_width(l),
                spec: l.clone(),
            })
            .collect();
        let has_dropout = layer_specs.iter().any(|l| {
            l["type"].as_str().is_some_and(|t| t.contains("Dropout"))
                && l["p"].as_f64().unwrap_or(0.5) > 0.0
        });
        let weight_decay = opt["weight_decay"].as_f64().unwrap_or(0.0);
        let has_regs = config["regularizers"]
            .as_array()
            .is_some_and(|r| !r.is_empty());
        RunContext {
            optimizer: opt["type"].as_str().map(str::to_string),
            lr: opt["lr"].as_f64(),
            scheduler: config["scheduler"]["type"].as_str().map(str::to_string),
            max_lr: config["scheduler"]["max_lr"].as_f64(),
            has_regularization: has_regs || weight_decay > 0.0,
            has_dropout,
            has_early_stopping: config["train"]["early_stopping"].is_object(),
            layers,
            parameters: None,
            epochs_planned: config["train"]["epochs"].as_u64().map(|e| e as usize),
            error: None,
            stopped_at: None,
            config: config.clone(),
            task: None,
            profile: None,
        }
    }

    /// The setting in control of the learning rate and its value: `scheduler.max_lr` under
    /// OneCycleLR and CyclicLR (they set the lr from it), `optimizer.lr` otherwise.
    pub fn lr_knob(&self) -> Option<(&'static str, f64)> {
        match self.scheduler.as_deref() {
            Some("OneCycleLR" | "CyclicLR") => self.max_lr.map(|v| ("scheduler.max_lr", v)),
            _ => self.lr.map(|v| ("optimizer.lr", v)),
        }
    }

    /// The data plugin's type (`Mnist`, `Csv`, `Text`, ...).
    pub fn data_type(&self) -> Option<&str> {
        self.config["data"]["type"].as_str()
    }

    /// The loss's type (`CrossEntropyLoss`, ...).
    pub fn loss(&self) -> Option<&str> {
        self.config["loss"]["type"].as_str()
    }

    /// A value of the experiment by section and key (`("train", "clip_grad_norm")`).
    pub fn get(&self, section: &str, key: &str) -> &Value {
        &self.config[section][key]
    }

    /// The number of classes of a classification task.
    pub fn num_classes(&self) -> Option<usize> {
        match &self.task {
            Some(tuna_data::Task::Classification { num_classes, .. }) => Some(*num_classes),
            _ => self
                .profile
                .as_ref()
                .map(|p| p.target.class_counts.len())
                .filter(|c| *c >= 2),
        }
    }

    /// Whether the task is regression.
    pub fn is_regression(&self) -> bool {
        matches!(self.task, Some(tuna_data::Task::Regression { .. }))
            || self
                .profile
                .as_ref()
                .is_some_and(|p| !p.target.mean.is_empty())
    }

    /// The model has a recurrent layer (RNN, LSTM, GRU).
    pub fn is_recurrent(&self) -> bool {
        self.layers
            .iter()
            .any(|l| matches!(l.kind.as_str(), "RNN" | "LSTM" | "GRU"))
    }

    /// The share of the most common class in the training split.
    pub fn majority_share(&self) -> Option<f64> {
        let counts = &self.profile.as_ref()?.target.class_counts;
        let n: usize = counts.iter().sum();
        (n > 0).then(|| *counts.iter().max().unwrap_or(&0) as f64 / n as f64)
    }

    /// The loss of predicting nothing (zero outputs), in the units the run reports: `ln C`
    /// for cross-entropy over C classes (or the vocabulary), `ln 2` for the binary losses,
    /// `E[y²]` for MSELoss and `E|y|` for L1-type losses. Losses far above it have run away.
    pub fn reference_loss(&self) -> Option<f64> {
        let loss = self.loss()?;
        match (loss, &self.task) {
            ("BCEWithLogitsLoss" | "BCELoss", _) => Some(std::f64::consts::LN_2),
            (_, Some(tuna_data::Task::LanguageModel { vocab_size })) => {
                Some((*vocab_size as f64).ln())
            }
            ("CrossEntropyLoss" | "NLLLoss" | "FocalLoss" | "MultiMarginLoss", _) => {
                self.num_classes().map(|c| (c as f64).ln())
            }
            ("MSELoss" | "L1Loss" | "SmoothL1Loss" | "HuberLoss", _) => {
                let (m2, abs) = self.target_moments()?;
                Some(if loss == "MSELoss" { m2 } else { abs })
            }
            _ => None,
        }
    }

    /// `E[y²]` and about `E|y|` of the targets in the units the run reports (the original
    /// units when they were standardized for training: zero then predicts the mean).
    fn target_moments(&self) -> Option<(f64, f64)> {
        let p = self.profile.as_ref()?;
        let scale = match &self.task {
            Some(tuna_data::Task::Regression {
                target_scale: Some(s),
                ..
            }) => s.std.iter().map(|s| f64::from(*s)).collect(),
            _ => vec![1.0; p.target.mean.len()],
        };
        let k = p.target.mean.len();
        if k == 0 {
            return None;
        }
        let (mut m2, mut abs) = (0.0, 0.0);
        for i in 0..k {
            let (m, s) = (p.target.mean[i], p.target.std[i]);
            m2 += (m * m + s * s) * scale[i] * scale[i];
            abs += (m.abs() + s) * scale[i];
        }
        Some((m2 / k as f64, abs / k as f64))
    }
}

/// Reads `at epoch E, batch B` from a non-finite-loss error.
fn stop_point(error: &str) -> Option<StopPoint> {
    let rest = &error[error.find("at epoch ")? + "at epoch ".len()..];
    let (epoch, rest) = rest.split_once(", batch ")?;
    let batch: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some(StopPoint {
        epoch: epoch.trim().parse().ok()?,
        batch: batch.parse().ok()?,
    })
}

/// Whether an error is the trainer's non-finite loss or gradient guard.
pub(crate) fn is_non_finite(error: &str) -> bool {
    error.contains("non-finite")
        || error.contains("became NaN")
        || error.contains("became inf")
        || error.contains("became -inf")
}

/// Reads what [`super::diagnose`] needs from a run folder: `metrics.jsonl`, `signals.jsonl`,
/// `config.toml`, `run.json` (the task), `data_profile.json`, `summary.json` and
/// `failure.json` (the error a failed run stopped with).
///
/// # Errors
/// The folder has no `config.toml`, or a file does not parse.
pub fn load_run(
    path: &Path,
) -> Result<(Vec<EpochRecord>, Vec<EpochSignals>, RunContext), DiagnoseError> {
    let config_path = path.join("config.toml");
    let text = std::fs::read_to_string(&config_path).map_err(|e| DiagnoseError::NotARun {
        path: config_path.clone(),
        reason: e.to_string(),
    })?;
    let config: Value = toml::from_str(&text).map_err(|e| DiagnoseError::Parse {
        path: config_path.clone(),
        reason: e.to_string(),
    })?;
    let mut context = RunContext::from_config(&config);
    let records = crate::run_dir::read_records(&path.join("metrics.jsonl")).map_err(|e| {
        DiagnoseError::Parse {
            path: path.join("metrics.jsonl"),
            reason: e.to_string(),
        }
    })?;
    let signals = read_signals(&path.join("signals.jsonl"))?;
    context.profile = read_profile(path);
    let run = crate::run_dir::RunDir::open(path).ok();
    context.task = run
        .as_ref()
        .and_then(|r| r.read_manifest().ok().flatten())
        .and_then(|m| m.task);
    let summary = run.as_ref().and_then(|r| r.read_summary().ok());
    if let Some(s) = &summary {
        context.parameters = Some(s.parameters);
        context.epochs_planned = Some(s.epochs_planned);
    }
    context.error = run.as_ref().and_then(|r| r.read_failure());
    if context.error.is_none() && summary.is_none() {
        context.error = unfinished(&records, &context);
    }
    context.stopped_at = context.error.as_deref().and_then(stop_point);
    Ok((records, signals, context))
}

/// Why a run without a summary or failure stopped, when its metrics tell.
fn unfinished(records: &[EpochRecord], context: &RunContext) -> Option<String> {
    let last_nan = records
        .last()
        .and_then(|r| r.get("train_loss"))
        .is_some_and(|l| !l.is_finite());
    if last_nan {
        return Some("the loss became non-finite".into());
    }
    let planned = context.epochs_planned?;
    (records.len() < planned).then(|| {
        format!(
            "it stopped after {} of {planned} epochs without a summary (an error, or still running)",
            records.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_point_is_read_from_the_guard_message() {
        let e = "the loss became NaN at epoch 2, batch 17 (step 130); lower scheduler.max_lr";
        assert_eq!(
            stop_point(e),
            Some(StopPoint {
                epoch: 2,
                batch: 17
            })
        );
        assert!(is_non_finite(e));
        let e = "the gradient of `1.weight` became non-finite (inf) at epoch 1, batch 0 (step 1)";
        assert_eq!(stop_point(e), Some(StopPoint { epoch: 1, batch: 0 }));
        assert_eq!(stop_point("disk full"), None);
    }

    #[test]
    fn the_lr_knob_is_the_schedule_peak_under_one_cycle() {
        let c = RunContext::from_config(&serde_json::json!({
            "optimizer": {"type": "SGD", "lr": 0.05},
            "scheduler": {"type": "OneCycleLR", "max_lr": 0.1},
        }));
        assert_eq!(c.lr_knob(), Some(("scheduler.max_lr", 0.1)));
        let c = RunContext::from_config(&serde_json::json!({
            "optimizer": {"type": "SGD", "lr": 0.05},
            "scheduler": {"type": "StepLR", "step_size": 3},
        }));
        assert_eq!(c.lr_knob(), Some(("optimizer.lr", 0.05)));
    }
}
