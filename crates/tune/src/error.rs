//! [`TuneError`]: everything that can go wrong in tuna-tune, each naming the file, field or
//! database at fault.

use std::path::PathBuf;

use tuna_train::experiment::ExperimentError;

/// An error of the tuner: a bad search-space file, an invalid sampler or pruner argument, a
/// sampled experiment that cannot be built, or a storage that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    /// A problem in a search-space file, at a field path (`params."optimizer.lr".log_uniform`,
    /// `sampler`, `objective.direction`).
    #[error("{}: {field}: {message}", file.display())]
    Space {
        /// The search-space file.
        file: PathBuf,
        /// Where in it (a path in the file's structure).
        field: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A search-space file that cannot be read or parsed at all.
    #[error("{}: {message}", file.display())]
    File {
        /// The file.
        file: PathBuf,
        /// Why (I/O or syntax error, with TOML's line and column).
        message: String,
    },
    /// The base experiment (or a sampled one) is not a valid experiment.
    #[error(transparent)]
    Experiment(#[from] ExperimentError),
    /// An invalid sampler or pruner argument (`HyperbandPruner.reduction_factor`), as its
    /// `validate` reports it.
    #[error("{field}: {message}")]
    Config {
        /// `<Type>.<argument>`.
        field: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A sample that cannot be written into the experiment (`params."path"`).
    #[error("params.\"{param}\": {message}")]
    Materialize {
        /// The parameter (its path in the experiment).
        param: String,
        /// What went wrong.
        message: String,
    },
    /// A study database that cannot be opened or written, or that holds another study.
    #[error("{location}: {message}")]
    Storage {
        /// The database (a file path, or a URL without its password).
        location: String,
        /// The database's error.
        message: String,
    },
    /// A study file that cannot be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The base experiment could not be built or evaluated to measure how it scales
    /// (`--jobs auto`).
    #[error("measuring the base experiment: {0}")]
    Probe(#[from] tuna_train::TrainError),
    /// A report plot that cannot be written.
    #[error(transparent)]
    Plot(#[from] tuna_plot::PlotError),
}

impl TuneError {
    /// A [`TuneError::Config`] for `field` (`<Type>.<argument>`).
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> TuneError {
        TuneError::Config {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A [`TuneError::Storage`] for the database at `location`.
    pub fn storage(location: impl std::fmt::Display, message: impl std::fmt::Display) -> TuneError {
        TuneError::Storage {
            location: location.to_string(),
            message: message.to_string(),
        }
    }
}

/// A `Result` with [`TuneError`].
pub type Result<T, E = TuneError> = std::result::Result<T, E>;
