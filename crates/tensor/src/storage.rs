//! The flat, typed buffer behind every tensor.

use crate::dtype::DType;

/// A contiguous typed buffer. Tensors share it through an `Arc` and describe their view of it
/// with a [`Layout`](crate::Layout); writes copy it first if it is shared (copy-on-write).
#[derive(Clone, Debug, PartialEq)]
pub enum Storage {
    /// `f32` elements.
    F32(Vec<f32>),
    /// `f64` elements.
    F64(Vec<f64>),
    /// `i64` elements.
    I64(Vec<i64>),
    /// `bool` elements.
    Bool(Vec<bool>),
}

impl Drop for Storage {
    /// Large `f32`/`f64`/`i64` buffers go back to the [`pool`](crate::pool) for reuse.
    fn drop(&mut self) {
        match self {
            Storage::F32(v) => crate::pool::give(std::mem::take(v)),
            Storage::F64(v) => crate::pool::give(std::mem::take(v)),
            Storage::I64(v) => crate::pool::give(std::mem::take(v)),
            Storage::Bool(_) => {}
        }
    }
}

impl Storage {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Storage::F32(_) => DType::F32,
            Storage::F64(_) => DType::F64,
            Storage::I64(_) => DType::I64,
            Storage::Bool(_) => DType::Bool,
        }
    }

    /// Number of elements in the buffer.
    pub fn len(&self) -> usize {
        match self {
            Storage::F32(v) => v.len(),
            Storage::F64(v) => v.len(),
            Storage::I64(v) => v.len(),
            Storage::Bool(v) => v.len(),
        }
    }

    /// Whether the buffer holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
