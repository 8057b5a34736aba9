//! Errors of model construction, shape inference and weight loading.

/// What went wrong building a model, inferring its shapes or loading its weights. Messages
/// name the layer (by position and type) or the state-dict key, and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NnError {
    /// A layer option is invalid (`Linear.in_features: must be positive, got 0`).
    #[error("{layer}.{field}: {message}")]
    Config {
        /// The layer type, e.g. `Linear`.
        layer: String,
        /// The offending field.
        field: String,
        /// What was expected.
        message: String,
    },
    /// A layer cannot take the shape it is given.
    #[error("layer {index} ({layer}): expected input {expected}, got shape {got:?}")]
    Shape {
        /// Position in the model (`"2"`, `"encoder.1"`).
        index: String,
        /// The layer type.
        layer: String,
        /// The input the layer needs, in words (`[*, 256]`).
        expected: String,
        /// The shape it got.
        got: Vec<usize>,
    },
    /// A state dict does not fit the model; every problem is listed.
    #[error("error(s) in loading state_dict: {}", describe_mismatch(.missing, .unexpected, .mismatched))]
    StateDict {
        /// Keys the model has and the state dict lacks.
        missing: Vec<String>,
        /// Keys the state dict has and the model lacks.
        unexpected: Vec<String>,
        /// `(key, model shape and dtype, file shape and dtype)` for entries that differ.
        mismatched: Vec<(String, String, String)>,
    },
    /// The per-sample lengths of a batch do not fit its padded input (see
    /// [`ForwardContext::check`](crate::ForwardContext::check)).
    #[error("lengths: {0}")]
    Lengths(String),
    /// Reading or writing a weights file failed.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What happened.
        message: String,
    },
}

fn describe_mismatch(
    missing: &[String],
    unexpected: &[String],
    mismatched: &[(String, String, String)],
) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing key(s): {}", missing.join(", ")));
    }
    if !unexpected.is_empty() {
        parts.push(format!("unexpected key(s): {}", unexpected.join(", ")));
    }
    for (k, want, got) in mismatched {
        parts.push(format!(
            "size mismatch for {k}: the model has {want}, the checkpoint has {got}"
        ));
    }
    parts.join("; ")
}

impl NnError {
    /// A [`NnError::Config`] for `layer.field`.
    pub fn config(layer: &str, field: &str, message: impl Into<String>) -> Self {
        NnError::Config {
            layer: layer.to_string(),
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// Why a state dict could not be written to or read from safetensors bytes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SafetensorsError {
    /// The bytes are not a valid safetensors file (truncated, corrupt header, overlapping
    /// data), or the data cannot be written in the format; the text is the library's reason.
    #[error("not a valid safetensors file: {0}")]
    Format(String),
    /// A tensor's dtype is not one Tuna holds.
    #[error("{name}: unsupported dtype {dtype} (supported: F32, F64, I64, BOOL)")]
    UnsupportedDtype {
        /// The tensor's name in the file.
        name: String,
        /// The dtype as the file names it.
        dtype: String,
    },
}
