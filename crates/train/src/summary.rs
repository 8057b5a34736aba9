//! [`RunSummary`]: the run folder's `summary.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::record::Value;

/// How a run ended and what it achieved (`summary.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The experiment's name.
    pub name: String,
    /// Epochs completed.
    pub epochs_completed: usize,
    /// Epochs the experiment asked for.
    pub epochs_planned: usize,
    /// The metric that picks the best epoch (the early-stopping monitor, else `val_loss`, else
    /// `train_loss`).
    pub monitor: String,
    /// The best epoch by `monitor`.
    pub best_epoch: Option<usize>,
    /// Every metric of the best epoch.
    pub best: BTreeMap<String, Value>,
    /// Every metric of the last epoch.
    #[serde(rename = "final")]
    pub last: BTreeMap<String, Value>,
    /// Test-split metrics of the final weights (`test_loss`, `test_accuracy`, ...), if the
    /// data has a test split.
    pub test: BTreeMap<String, Value>,
    /// The test confusion matrix (rows: true class, columns: predicted), for classification
    /// with `confusion_matrix` among the metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confusion_matrix: Option<Vec<Vec<u64>>>,
    /// Why training stopped before `epochs_planned`, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<String>,
    /// Whether the final weights are the best epoch's (early stopping with `restore_best`).
    pub restored_best: bool,
    /// Wall time of the training, resumed parts included, in seconds.
    pub wall_seconds: f64,
    /// Trainable scalars in the model.
    pub parameters: usize,
    /// Training samples processed per second, averaged over the run.
    pub samples_per_second: f64,
    /// Seconds this process spent writing checkpoints (serialization, fsync, rename): the
    /// cost of the crash guarantees, to compare with `wall_seconds`.
    #[serde(default)]
    pub checkpoint_seconds: f64,
}
