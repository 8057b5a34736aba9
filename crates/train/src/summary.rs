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
    /// Where this process's training time went (absent in summaries written before it was
    /// recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeSpent>,
}

/// Where a run's wall time went, in seconds, for the part trained by the process that wrote
/// the summary (a resumed run's earlier processes are not counted): the answer to "is it the
/// model or the tool?". `other` is the wall time none of the parts measured (the loop itself,
/// the schedule, early stopping, keeping the best weights).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeSpent {
    /// Waiting for the loader's next batch (reading, decoding, augmenting, collating).
    pub data: f64,
    /// Forward, loss, backward, gradient checks, the optimizer update and the running metrics.
    pub steps: f64,
    /// The validation passes and the test pass.
    pub evaluation: f64,
    /// The callbacks: the signals recorder (its probes), progress output, user callbacks.
    pub callbacks: f64,
    /// Checkpoints: snapshot, serialization and waiting for the background writer.
    pub checkpoints: f64,
    /// The run folder's other writes: `metrics.jsonl`, the weights, the learning curves.
    pub records: f64,
    /// The rest of the wall time.
    pub other: f64,
}

impl TimeSpent {
    /// The sum of the parts (the process's training wall time).
    pub fn total(&self) -> f64 {
        self.data
            + self.steps
            + self.evaluation
            + self.callbacks
            + self.checkpoints
            + self.records
            + self.other
    }

    /// The share of the wall time that is not the model's compute or the data: evaluation,
    /// callbacks, checkpoints, records and the rest, in `[0, 1]` (0 for an empty run).
    pub fn overhead_share(&self) -> f64 {
        let total = self.total();
        if total > 0.0 {
            (total - self.steps - self.data) / total
        } else {
            0.0
        }
    }
}
