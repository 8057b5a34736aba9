//! The error type of fallible (`try_`) tensor operations.

use std::fmt;

use crate::dtype::DType;

/// What went wrong in a tensor operation. Every variant names the operation and carries the
/// shapes or values involved, so the message alone locates the problem.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorError {
    /// Two shapes that had to agree did not (`op: lhs [2, 3] vs rhs [4, 3]`).
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
    Broadcast {
        /// The operation.
        op: &'static str,
        /// The first shape.
        lhs: Vec<usize>,
        /// The second shape.
        rhs: Vec<usize>,
    },
    /// A dimension index outside `-rank..rank`.
    DimOutOfRange {
        /// The operation.
        op: &'static str,
        /// The requested dimension.
        dim: isize,
        /// The tensor's rank.
        rank: usize,
    },
    /// An operation got a dtype it does not support.
    DType {
        /// The operation.
        op: &'static str,
        /// What it accepts.
        expected: &'static str,
        /// What it got.
        got: DType,
    },
    /// An index outside its dimension.
    IndexOutOfRange {
        /// The operation.
        op: &'static str,
        /// The offending index.
        index: i64,
        /// The size of the indexed dimension.
        size: usize,
    },
    /// Any other invalid argument, described in words.
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
}

impl fmt::Display for TensorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TensorError::ShapeMismatch {
                op,
                lhs,
                rhs,
                expected,
            } => write!(f, "{op}: shape mismatch, {lhs:?} vs {rhs:?} ({expected})"),
            TensorError::Broadcast { op, lhs, rhs } => write!(
                f,
                "{op}: shapes {lhs:?} and {rhs:?} cannot be broadcast together"
            ),
            TensorError::DimOutOfRange { op, dim, rank } => write!(
                f,
                "{op}: dimension {dim} out of range for a tensor of rank {rank} (expected {}..{})",
                -(*rank as isize),
                rank
            ),
            TensorError::DType { op, expected, got } => {
                write!(f, "{op}: expected {expected}, got a {got} tensor")
            }
            TensorError::IndexOutOfRange { op, index, size } => write!(
                f,
                "{op}: index {index} is out of bounds for a dimension of size {size}"
            ),
            TensorError::Invalid { op, message } => write!(f, "{op}: {message}"),
        }
    }
}

impl std::error::Error for TensorError {}

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
