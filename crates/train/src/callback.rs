//! [`Callback`]: hooks into the training loop (Keras/Lightning callbacks), for progress
//! displays, logging, diagnosis signals or custom stopping rules.

use std::time::Duration;

use tuna_autograd::NamedParam;
use tuna_nn::Module;

use crate::metrics::MetricAccumulator;
use crate::record::EpochRecord;
use crate::summary::RunSummary;

/// What a callback wants the loop to do next.
#[derive(Clone, Debug, PartialEq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// Finish the current epoch's bookkeeping and stop training (like early stopping), with
    /// a reason recorded in the summary.
    Stop(String),
}

/// Facts about the run, given once when training starts.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// The experiment's name.
    pub name: String,
    /// The epoch training starts from (1 for a fresh run, later when resuming).
    pub first_epoch: usize,
    /// The last epoch.
    pub epochs: usize,
    /// Training batches per epoch.
    pub batches_per_epoch: usize,
    /// Training samples per epoch.
    pub samples_per_epoch: usize,
    /// Trainable scalars in the model.
    pub parameters: usize,
    /// The scalar metrics recorded per epoch (without `loss`).
    pub metrics: Vec<String>,
}

/// Where the time of one training step went.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepTiming {
    /// Fetching and collating the batch.
    pub data: Duration,
    /// Forward pass, loss and penalties.
    pub forward: Duration,
    /// Backward pass.
    pub backward: Duration,
    /// Clipping, optimizer step, constraints and schedule.
    pub optimizer: Duration,
}

/// One finished training step.
#[derive(Clone, Debug)]
pub struct StepInfo {
    /// The epoch (from 1).
    pub epoch: usize,
    /// The batch within the epoch (from 0).
    pub batch: usize,
    /// Batches in this epoch.
    pub batches: usize,
    /// Optimizer steps taken so far, this one included.
    pub global_step: u64,
    /// The batch's loss (without regularization penalties).
    pub loss: f64,
    /// The regularization penalty added to the loss (0 without regularizers).
    pub penalty: f64,
    /// Samples in the batch.
    pub samples: usize,
    /// The learning rate of the first parameter group used for this step.
    pub lr: f64,
    /// The running value of the first metric over the epoch so far, if any.
    pub running_metric: Option<(String, f64)>,
    /// Where the step's time went.
    pub timing: StepTiming,
}

/// Hooks called by the [`Trainer`](crate::trainer::Trainer). Every method has an empty
/// default, so implement only what you need.
///
/// ```
/// use tuna_train::callback::{Callback, Flow};
/// use tuna_train::EpochRecord;
/// use tuna_nn::Module;
///
/// /// Stops as soon as validation accuracy reaches a target.
/// struct StopAt(f64);
///
/// impl Callback for StopAt {
///     fn on_epoch_end(&mut self, record: &EpochRecord, _model: &dyn Module) -> Flow {
///         match record.get("val_accuracy") {
///             Some(a) if a >= self.0 => Flow::Stop(format!("val_accuracy reached {a:.3}")),
///             _ => Flow::Continue,
///         }
///     }
/// }
/// ```
pub trait Callback: Send {
    /// Before the first epoch (of this process: after a resume too).
    fn on_train_begin(&mut self, _info: &RunInfo) {}

    /// Before each epoch, with its number of batches.
    fn on_epoch_begin(&mut self, _epoch: usize, _batches: usize) {}

    /// After the backward pass and before clipping and the optimizer step: every
    /// parameter's `.grad()` holds this step's gradient.
    fn on_after_backward(&mut self, _epoch: usize, _batch: usize, _params: &[NamedParam]) {}

    /// After each optimizer step.
    fn on_batch_end(&mut self, _step: &StepInfo, _model: &dyn Module) -> Flow {
        Flow::Continue
    }

    /// After each epoch's pass over the validation split, with its running metric
    /// statistics (the confusion counts of a classification task, for one); before
    /// [`Callback::on_eval_epoch_end`]. Not called without a validation split.
    fn on_validation(&mut self, _epoch: usize, _metrics: &MetricAccumulator) {}

    /// After each epoch's evaluation, with the model in eval mode (dropout off, batch norm on
    /// its running statistics): the place to run extra forward passes for inspection without
    /// disturbing training (no dropout draws, no running-stat updates).
    fn on_eval_epoch_end(&mut self, _epoch: usize, _model: &dyn Module) {}

    /// Before [`Callback::on_eval_epoch_end`] of the epoch training ends with: the last
    /// planned epoch, or the one early stopping stops after (Keras' `on_train_end` comes
    /// after it; this comes while that epoch's model can still be inspected in eval mode).
    /// Not called when a callback's [`Flow::Stop`] or an interruption ends the run.
    fn on_final_epoch(&mut self, _epoch: usize) {}

    /// After each epoch's evaluation, with its metrics.
    fn on_epoch_end(&mut self, _record: &EpochRecord, _model: &dyn Module) -> Flow {
        Flow::Continue
    }

    /// When training ends (normally, by early stopping, or by a callback's request).
    fn on_train_end(&mut self, _summary: &RunSummary) {}
}
