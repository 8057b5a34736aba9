//! # Tuna
//!
//! A Rust toolkit for training deep-learning models and tuning them. This umbrella crate
//! re-exports every Tuna crate:
//!
//! - [`tensor`]: n-d tensors and PyTorch-exact CPU kernels;
//! - [`autograd`]: reverse-mode automatic differentiation on a per-step tape.

pub use tuna_autograd as autograd;
pub use tuna_tensor as tensor;

pub use tuna_autograd::{no_grad, Tape, Var};
pub use tuna_tensor::{DType, Tensor};
