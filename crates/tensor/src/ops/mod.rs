//! Kernels, one file per family. Each adds methods to [`Tensor`](crate::Tensor).

pub mod assign;
pub mod binary;
pub mod conv;
pub mod index;
pub mod inplace;
pub mod matmul;
pub mod pad;
pub mod pool;
pub mod reduce;
pub mod unary;
