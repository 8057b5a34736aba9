//! The error type of every schedule.

use thiserror::Error;

/// What went wrong while validating, building or restoring a schedule.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SchedError {
    /// A config field has a bad value: `{schedule}.{field}: {message}`, where the message says
    /// what was expected and what was found.
    #[error("{schedule}.{field}: {message}")]
    InvalidField {
        /// The schedule's PyTorch name (its `type` tag), e.g. `MultiStepLR`.
        schedule: &'static str,
        /// The field name, as written in the config.
        field: &'static str,
        /// What was expected and what was found.
        message: String,
    },
    /// [`LrSchedulerConfig::build`](crate::LrSchedulerConfig::build) got no parameter groups.
    #[error(
        "a schedule needs at least one parameter group, got an empty list of base learning rates"
    )]
    NoParamGroups,
    /// A base learning rate is NaN or infinite.
    #[error("base learning rates must be finite, got {0}")]
    BaseLr(f64),
    /// A saved state does not fit this schedule.
    #[error("cannot load scheduler state: {0}")]
    State(String),
}

impl SchedError {
    /// Shorthand for [`SchedError::InvalidField`].
    pub fn invalid(
        schedule: &'static str,
        field: &'static str,
        message: impl Into<String>,
    ) -> Self {
        SchedError::InvalidField {
            schedule,
            field,
            message: message.into(),
        }
    }
}
