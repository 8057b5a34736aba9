//! [`DataError`]: every error reading, parsing or splitting data, naming the file and where
//! in it the problem is.

use std::path::PathBuf;

/// A data file that cannot be read or parsed, or a data config that cannot be satisfied.
///
/// The `Display` form names the file, the location (line, column or byte offset) and the
/// problem: `datasets/iris.csv: line 17: expected 5 columns, found 4`.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file exists but its content is wrong (bad magic, truncated, ragged rows, ...).
    #[error("{}: {location}{reason}", file.display())]
    Parse {
        /// The file at fault.
        file: PathBuf,
        /// Where in the file: `line 17: `, `byte 16: ` or empty when the whole file is at fault.
        location: String,
        /// What was expected and what was found.
        reason: String,
    },
    /// A file cannot be opened or read.
    #[error("{}: {reason}", file.display())]
    Io {
        /// The file at fault.
        file: PathBuf,
        /// The operating-system error.
        reason: String,
    },
    /// A file or folder named by a config field is not where it was looked for.
    #[error("{field}: {} not found; looked in {}", path.display(), list_paths(tried))]
    NotFound {
        /// The field naming the path (`data.path`).
        field: String,
        /// The path as written.
        path: PathBuf,
        /// Every place that was tried, in order.
        tried: Vec<PathBuf>,
    },
    /// Saved preprocessing (a run's `preprocessing.json`) does not fit this data plugin.
    #[error("preprocessing.json: {0}")]
    Preprocessing(String),
    /// The plugin cannot do what was asked (predict from a file, encode text).
    #[error("{0}")]
    Unsupported(String),
    /// A config field holds a value outside its allowed range, or data and config disagree.
    #[error("{field}: {reason}")]
    Config {
        /// The offending field's path in the experiment file (`data.validation`, `loader.batch_size`).
        field: String,
        /// What was expected and what was found.
        reason: String,
    },
}

fn list_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl DataError {
    /// A [`DataError::Parse`] error at `location` (e.g. `"line 17"`, `"byte 16"`; empty for
    /// the whole file).
    pub fn parse(
        file: impl Into<PathBuf>,
        location: impl AsRef<str>,
        reason: impl Into<String>,
    ) -> Self {
        let location = location.as_ref();
        DataError::Parse {
            file: file.into(),
            location: if location.is_empty() {
                String::new()
            } else {
                format!("{location}: ")
            },
            reason: reason.into(),
        }
    }

    /// A [`DataError::Io`] error.
    pub fn io(file: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        DataError::Io {
            file: file.into(),
            reason: err.to_string(),
        }
    }

    /// A [`DataError::Config`] error.
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        DataError::Config {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
