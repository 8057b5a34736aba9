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
    /// output vs classes, a parameter group matching nothing, an unknown metric).
    #[error("{0}")]
    Setup(String),
    /// The loss or a gradient became NaN or infinite.
    #[error("{0}")]
    NonFinite(String),
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
}
