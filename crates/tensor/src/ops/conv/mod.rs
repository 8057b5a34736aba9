//! Convolutions (PyTorch `conv1d`, `conv2d`, `conv_transpose2d`) and the gradient kernels their
//! backward passes use.
//!
//! Everything is lowered to im2col + GEMM. A chunk of batch samples is unfolded into a column
//! matrix `[C/groups·kh·kw, chunk·OH·OW]`, and each group's weight, read in place as a strided
//! `[Cout/groups, C/groups·kh·kw]` matrix (transposes are stride swaps, never copies), multiplies
//! it. The input gradient multiplies by the transposed weight and folds the columns back
//! (col2im); the weight gradient multiplies the upstream gradient by the transposed columns.
//! Chunks of samples run in parallel on the kernel pool. Chunk sizes depend only on the shapes
//! and the weight gradient sums its per-chunk partial products in a fixed order, so results are
//! bit-identical for every thread count.
//!
//! `conv1d` is `conv2d` with a height of 1, and `conv_transpose2d` is the input gradient of the
//! matching `conv2d` (and vice versa), so the three kernels below serve all of them.

mod backward;
mod checks;
mod forward;
mod geom;
mod kernels;
mod lowering;
mod options;

pub use backward::*;
pub use options::{Conv1dOptions, Conv2dOptions, ConvTranspose2dOptions, Padding1d, Padding2d};

pub(crate) use lowering::valid_range;
pub(crate) use options::{de_opt_pair, de_pair};
