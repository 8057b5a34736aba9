//! # tuna-autograd
//!
//! Reverse-mode automatic differentiation for Tuna. A [`Tape`] records one step's operations
//! on [`Var`]s (`Copy` handles into the tape), and `backward` walks it once in reverse.
//! Trainable tensors are [`Param`]s: they outlive tapes, enter a step with [`Tape::param`],
//! and receive gradients in [`Param::grad`], as PyTorch's `.grad`.
//!
//! ```
//! use tuna_autograd::{Param, Tape};
//! use tuna_tensor::Tensor;
//!
//! // one SGD step on y = relu(x·wᵀ + b)
//! let w = Param::new(Tensor::from_vec(vec![0.5f32, -0.25], &[1, 2]));
//! let b = Param::new(Tensor::from_vec(vec![0.1f32], &[1]));
//! let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
//!
//! let tape = Tape::new();
//! let (xv, wv, bv) = (tape.constant(x), tape.param(&w), tape.param(&b));
//! let loss = xv.matmul(wv.t()).add(bv).relu().mean();
//! loss.backward();
//! drop(tape);
//!
//! let g = w.grad().unwrap();
//! w.update(|v| *v = v.sub(&g.mul_scalar(0.1)));
//! assert_eq!(g.shape(), &[1, 2]);
//! ```
//!
//! [`functional`] holds `torch.nn.functional` ops (normalization, `linear`, attention) composed
//! from differentiable `Var` ops.
//!
//! [`gradcheck`] compares any function's analytic gradients against central finite
//! differences in f64.

mod custom;
mod elementwise;
pub mod functional;
pub mod grad_mode;
pub mod gradcheck;
mod name_pattern;
mod op;
mod pad;
mod param;
mod spatial;
mod tape;
mod var_ops;

pub use custom::CustomOp;
pub use grad_mode::{is_grad_enabled, no_grad, NoGradGuard};
pub use name_pattern::{
    is_selected, name_matches, name_matches_any, select_params, selection_problem, NamedParam,
};
pub use param::Param;
pub use tape::{Tape, Var};

/// Unwraps the result of a `try_` op, panicking with its message (the panicking API).
#[track_caller]
pub(crate) fn or_panic<T>(r: tuna_tensor::Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}
