//! Kernels, one file per family. Each adds methods to [`Tensor`](crate::Tensor).

pub mod binary;
pub mod conv;
pub mod matmul;
pub mod pool;
pub mod reduce;
pub mod unary;
