//! Why a value path, a `--set` / `--unset` override or experiment text could not be used.

/// Why a value path (`model.layers[3].p`), a `--set KEY=VALUE` / `--unset KEY` override or
/// experiment text could not be used. Each variant's message names the path (or the text's
/// line and column) and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// A malformed path, a path through a value that is not a table or list, or an index
    /// past the end of a list.
    #[error("{0}")]
    Path(String),
    /// Nothing at the path to remove.
    #[error("{0}")]
    Missing(String),
    /// Text that is not TOML (or JSON), or an override that is not `KEY=VALUE`.
    #[error("{0}")]
    Syntax(String),
    /// A value no setting accepts (`nan`) or that a file cannot hold (an empty value).
    #[error("{0}")]
    Unrepresentable(String),
}

impl ValueError {
    /// The same error with `prefix` in front of its message (`override ...`).
    pub fn prefixed(self, prefix: &str) -> ValueError {
        match self {
            ValueError::Path(m) => ValueError::Path(format!("{prefix}{m}")),
            ValueError::Missing(m) => ValueError::Missing(format!("{prefix}{m}")),
            ValueError::Syntax(m) => ValueError::Syntax(format!("{prefix}{m}")),
            ValueError::Unrepresentable(m) => ValueError::Unrepresentable(format!("{prefix}{m}")),
        }
    }
}
