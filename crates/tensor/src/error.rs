//! The error type of fallible (`try_`) tensor operations.

use crate::dtype::DType;

/// What went wrong in a tensor operation. Every variant names the operation and carries the
/// shapes or values involved, so the message alone locates the problem.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TensorError {
    /// Two shapes that had to agree did not (`op: lhs [2, 3] vs rhs [4, 3]`).
    #[error("{op}: shape mismatch, {lhs:?} vs {rhs:?} ({expected})")]
    ShapeMismatch {
        /// The operation, e.g. `matmul`.
        op: &'static str,
        /// The first operand's shape.
        lhs: Vec<usize>,
        /// The second operand's shape.
        rhs: Vec<usize>,
        /// What the operation needed.
        expected: String,
    },
    /// Shapes that cannot be broadcast together by NumPy rules.
    #[error("{op}: shapes {lhs:?} and {rhs:?} cannot be broadcast together")]
    Broadcast {
        /// The operation.
        op: &'static str,
        /// The first shape.
        lhs: Vec<usize>,
        /// The second shape.
        rhs: Vec<usize>,
    },
    /// A dimension index outside `-rank..rank`.
    #[error(
        "{op}: dimension {dim} out of range for a tensor of rank {rank} (expected {}..{rank})",
        -(*rank as isize)
    )]
    DimOutOfRange {
        /// The operation.
        op: &'static str,
        /// The requested dimension.
        dim: isize,
        /// The tensor's rank.
        rank: usize,
    },
    /// An operation got a dtype it does not support.
    #[error("{op}: expected {expected}, got a {got} tensor")]
    DType {
        /// The operation.
        op: &'static str,
        /// What it accepts.
        expected: &'static str,
        /// What it got.
        got: DType,
    },
    /// An index outside its dimension.
    #[error("{op}: index {index} is out of bounds for a dimension of size {size}")]
    IndexOutOfRange {
        /// The operation.
        op: &'static str,
        /// The offending index.
        index: i64,
        /// The size of the indexed dimension.
        size: usize,
    },
    /// Any other invalid argument, described in words.
    #[error("{op}: {message}")]
    Invalid {
        /// The operation.
        op: &'static str,
        /// What was wrong.
        message: String,
    },
}

impl TensorError {
    /// Builds an [`TensorError::Invalid`].
    pub fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        TensorError::Invalid {
            op,
            message: message.into(),
        }
    }

    /// The operation that failed (`"matmul"`, `"conv2d"`, ...).
    pub fn op(&self) -> &'static str {
        match self {
            TensorError::ShapeMismatch { op, .. }
            | TensorError::Broadcast { op, .. }
            | TensorError::DimOutOfRange { op, .. }
            | TensorError::DType { op, .. }
            | TensorError::IndexOutOfRange { op, .. }
            | TensorError::Invalid { op, .. } => op,
        }
    }
}

/// Result of a fallible tensor operation.
pub type Result<T> = std::result::Result<T, TensorError>;

/// Unwraps a tensor result, panicking with the error's message (the non-`try_` API).
#[track_caller]
pub(crate) fn or_panic<T>(r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}
