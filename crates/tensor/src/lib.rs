//! # tuna-tensor
//!
//! N-dimensional tensors for Tuna: runtime dtype (`f32`, `f64`, plus `i64` indices and `bool`
//! masks), shapes with strides and offsets so views (`transpose`, `permute`, `narrow`,
//! `expand`, ...) never copy, NumPy broadcasting for every binary op, and CPU kernels that
//! match PyTorch: elementwise math and activations, reductions, `matmul` through
//! `matrixmultiply`, convolution and pooling, indexing, and a seeded random generator.
//!
//! This crate knows nothing about gradients: `tuna-autograd` records operations on tensors
//! and differentiates them.
//!
//! ```
//! use tuna_tensor::{DType, Tensor};
//!
//! let x = Tensor::from_vec(vec![1.0f32, -2.0, 3.0, -4.0, 5.0, -6.0], &[2, 3]);
//! let y = x.relu().sum_dims(&[1], false);          // [4, 5]
//! assert_eq!(y.to_vec::<f32>(), vec![4.0, 5.0]);
//! let w = Tensor::ones(&[3, 2], DType::F32);
//! assert_eq!(x.matmul(&w).shape(), &[2, 2]);
//! assert_eq!(x.softmax(-1).sum_dims(&[-1], false).to_vec::<f32>()[0], 1.0);
//! ```
//!
//! Shape errors panic with the operation's name and both shapes, as PyTorch raises; every
//! operation a caller may want to recover from has a `try_` variant returning [`Result`].

mod display;
pub mod dtype;
pub mod error;
pub mod layout;
pub mod ops;
pub mod pool;
pub mod random;
pub mod storage;
mod strided;
pub mod tensor;
pub mod threading;

pub use dtype::{DType, Element, FloatElement};
pub use error::{Result, TensorError};
pub use layout::{broadcast_shapes, normalize_dim, normalize_dims, Layout};
pub use ops::conv::{
    conv1d_backward_bias, conv1d_backward_input, conv1d_backward_weight, conv2d_backward_bias,
    conv2d_backward_input, conv2d_backward_weight, conv_transpose2d_backward_bias,
    conv_transpose2d_backward_input, conv_transpose2d_backward_weight, Conv1dOptions,
    Conv2dOptions, ConvTranspose2dOptions, Padding1d, Padding2d,
};
pub use ops::matmul::{gemm_slices, matmul_shape, Gemm};
pub use ops::pad::{pad_backward, try_pad_backward, PadMode};
pub use ops::pool::{
    adaptive_avg_pool2d_backward, avg_pool2d_backward, max_pool2d_backward, AvgPool2dOptions,
    MaxPool2dOptions,
};
pub use ops::unary::GeluApprox;
pub use pool::{pool_limit, pooled_bytes, set_pool_limit};
pub use random::Generator;
pub use storage::Storage;
pub use tensor::Tensor;
pub use threading::{
    default_num_threads, num_threads, set_default_num_threads, set_num_threads, with_num_threads,
};
