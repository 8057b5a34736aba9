//! [`TrainError`]: what can stop a run, each naming the file, field or step at fault.

use std::path::PathBuf;

use crate::experiment::ExperimentError;

/// An error building or running a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The experiment file is invalid (every problem listed).
    #[error(transparent)]
    Experiment(#[from] ExperimentError),
    /// The data could not be loaded.
    #[error("data: {0}")]
    Data(#[from] tuna_data::DataError),
    /// The experiment is valid piece by piece, but the pieces do not fit together (model
    /// output vs classes, a loss that does not fit the task, a parameter group matching
    /// nothing, an unknown metric), each message starting with the field at fault.
    #[error("{0}")]
    Setup(String),
    /// The model cannot be built or does not take the data.
    #[error("model: {0}")]
    Model(#[from] tuna_nn::NnError),
    /// The loss cannot take the model's output and the targets.
    #[error("loss: {0}")]
    Loss(#[from] tuna_loss::LossError),
    /// The optimizer failed (a parameter group, its state, a step).
    #[error("optimizer: {0}")]
    Optimizer(#[from] tuna_optim::OptimError),
    /// The schedule failed (building it, or its state on resume).
    #[error("scheduler: {0}")]
    Scheduler(#[from] tuna_sched::SchedError),
    /// A regularizer or constraint failed.
    #[error("regularization: {0}")]
    Regularize(#[from] tuna_regularize::RegularizeError),
    /// The metrics are invalid for the task, or cannot take the model's output (the message
    /// names `train.metrics[i]` or the shapes).
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricError),
    /// An error during training, with where it happened.
    #[error("epoch {epoch}, batch {batch}: {error}")]
    At {
        /// The epoch (from 1).
        epoch: usize,
        /// The batch within the epoch (from 0).
        batch: usize,
        /// What went wrong.
        error: Box<TrainError>,
    },
    /// The loss or a gradient became NaN or infinite.
    #[error("{0}")]
    NonFinite(String),
    /// Training was interrupted (Ctrl-C, SIGTERM) after a batch; the last checkpoint holds
    /// everything up to it.
    #[error("interrupted after epoch {epoch}, batch {batch}; the run folder's checkpoint holds everything up to there")]
    Interrupted {
        /// Completed epochs.
        epoch: usize,
        /// Completed batches of the next epoch.
        batch: usize,
    },
    /// A file of the run folder could not be read or written.
    #[error("{}: {reason}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A checkpoint is corrupt, truncated or belongs to another experiment.
    #[error("checkpoint {}: {reason}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A callback asked to abort with an error.
    #[error("{0}")]
    Callback(String),
}

impl TrainError {
    /// An [`TrainError::Io`] error.
    pub fn io(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        TrainError::Io {
            path: path.into(),
            reason: err.to_string(),
        }
    }

    /// A [`TrainError::Checkpoint`] error.
    pub fn checkpoint(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        TrainError::Checkpoint {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A [`TrainError::Loss`] error (for `map_err`).
    pub fn loss(e: tuna_loss::LossError) -> Self {
        TrainError::Loss(e)
    }

    /// A [`TrainError::Metrics`] error (for `map_err`).
    pub fn metrics(e: crate::metrics::MetricError) -> Self {
        TrainError::Metrics(e)
    }

    /// This error located at `epoch` and `batch`.
    pub fn at(self, epoch: usize, batch: usize) -> Self {
        match self {
            e @ (TrainError::At { .. } | TrainError::NonFinite(_)) => e,
            e => TrainError::At {
                epoch,
                batch,
                error: Box::new(e),
            },
        }
    }

    /// The error without its location (what went wrong).
    pub fn root(&self) -> &TrainError {
        match self {
            TrainError::At { error, .. } => error.root(),
            e => e,
        }
    }
}
