//! The public gradient kernels of the convolutions (PyTorch `torch.nn.grad.conv2d_input`,
//! `conv2d_weight`, ...), each with a `try_` twin.

use crate::error::{or_panic, Result};
use crate::tensor::Tensor;
use crate::with_float;

use super::checks::*;
use super::forward::{check_1d, rename_1d};
use super::geom::{conv_geom, transpose_geom};
use super::kernels::*;
use super::options::{Conv1dOptions, Conv2dOptions, ConvTranspose2dOptions};

/// Gradient of [`Tensor::conv2d`] with respect to its input: the vector-Jacobian product with
/// `grad_out` (PyTorch `torch.nn.grad.conv2d_input(input_shape, weight, grad_output, ...)`).
///
/// `grad_out` has the convolution's output shape, `weight` is the forward weight, and
/// `input_shape` is the forward input's shape (4-D, or 3-D for an unbatched input). Returns a
/// contiguous tensor of `input_shape`.
///
/// # Panics
/// If the shapes, options or dtypes are inconsistent (see [`try_conv2d_backward_input`]).
#[track_caller]
pub fn conv2d_backward_input(
    grad_out: &Tensor,
    weight: &Tensor,
    input_shape: &[usize],
    opts: &Conv2dOptions,
) -> Tensor {
    or_panic(try_conv2d_backward_input(
        grad_out,
        weight,
        input_shape,
        opts,
    ))
}

/// Fallible [`conv2d_backward_input`].
///
/// # Errors
/// If `input_shape` and `weight` are not a valid [`Tensor::conv2d`] problem under `opts`,
/// `grad_out` does not have its output shape, or the dtypes are not one float type.
pub fn try_conv2d_backward_input(
    grad_out: &Tensor,
    weight: &Tensor,
    input_shape: &[usize],
    opts: &Conv2dOptions,
) -> Result<Tensor> {
    const OP: &str = "conv2d_backward_input";
    let d = same_float(OP, &[grad_out, weight])?;
    let (s, unbatched) = shape4(OP, input_shape, weight.shape())?;
    let g = conv_geom(OP, &s, weight.shape(), opts)?;
    let gy = grad4(OP, grad_out, unbatched, g.output_shape())?;
    let dx = with_float!(d, OP, T => conv_backward_input::<T>(&gy, weight, &g))?;
    Ok(unbatch(dx, unbatched))
}

/// Gradient of [`Tensor::conv2d`] with respect to its weight: `Σ_n grad_out[n] ⊛ input[n]`
/// (PyTorch `torch.nn.grad.conv2d_weight(input, weight_shape, grad_output, ...)`).
///
/// `input` is the forward input (any strides, 4-D or unbatched 3-D) and `weight_shape` the
/// forward weight's shape. Returns a contiguous tensor of `weight_shape`.
///
/// # Panics
/// If the shapes, options or dtypes are inconsistent (see [`try_conv2d_backward_weight`]).
#[track_caller]
pub fn conv2d_backward_weight(
    grad_out: &Tensor,
    input: &Tensor,
    weight_shape: &[usize],
    opts: &Conv2dOptions,
) -> Tensor {
    or_panic(try_conv2d_backward_weight(
        grad_out,
        input,
        weight_shape,
        opts,
    ))
}

/// Fallible [`conv2d_backward_weight`].
///
/// # Errors
/// If `input` and `weight_shape` are not a valid [`Tensor::conv2d`] problem under `opts`,
/// `grad_out` does not have its output shape, or the dtypes are not one float type.
pub fn try_conv2d_backward_weight(
    grad_out: &Tensor,
    input: &Tensor,
    weight_shape: &[usize],
    opts: &Conv2dOptions,
) -> Result<Tensor> {
    const OP: &str = "conv2d_backward_weight";
    let d = same_float(OP, &[grad_out, input])?;
    let (x, unbatched) = batched4(OP, input, weight_shape)?;
    let g = conv_geom(OP, x.shape(), weight_shape, opts)?;
    let gy = grad4(OP, grad_out, unbatched, g.output_shape())?;
    with_float!(d, OP, T => conv_backward_weight::<T>(&gy, &x, &g))
}

/// Gradient of [`Tensor::conv2d`] with respect to its bias: `grad_out` summed over the batch
/// and spatial dims (`grad_output.sum((0, 2, 3))` in PyTorch; `(1, 2)` if unbatched).
///
/// # Panics
/// If `grad_out` is not 3-D or 4-D or not float.
#[track_caller]
pub fn conv2d_backward_bias(grad_out: &Tensor) -> Tensor {
    or_panic(try_conv2d_backward_bias(grad_out))
}

/// Fallible [`conv2d_backward_bias`].
///
/// # Errors
/// If `grad_out` is not 3-D or 4-D or not float.
pub fn try_conv2d_backward_bias(grad_out: &Tensor) -> Result<Tensor> {
    bias_grad("conv2d_backward_bias", grad_out, 2)
}

/// Gradient of [`Tensor::conv1d`] with respect to its input (`torch.nn.grad.conv1d_input`).
/// `input_shape` is `[N, C, L]` or unbatched `[C, L]`; returns a contiguous tensor of that shape.
///
/// # Panics
/// If the shapes, options or dtypes are inconsistent (see [`try_conv1d_backward_input`]).
#[track_caller]
pub fn conv1d_backward_input(
    grad_out: &Tensor,
    weight: &Tensor,
    input_shape: &[usize],
    opts: &Conv1dOptions,
) -> Tensor {
    or_panic(try_conv1d_backward_input(
        grad_out,
        weight,
        input_shape,
        opts,
    ))
}

/// Fallible [`conv1d_backward_input`].
///
/// # Errors
/// If `input_shape` and `weight` are not a valid [`Tensor::conv1d`] problem under `opts`,
/// `grad_out` does not have its output shape, or the dtypes are not one float type.
pub fn try_conv1d_backward_input(
    grad_out: &Tensor,
    weight: &Tensor,
    input_shape: &[usize],
    opts: &Conv1dOptions,
) -> Result<Tensor> {
    const OP: &str = "conv1d_backward_input";
    check_1d(OP, input_shape, weight.shape())?;
    let mut s = input_shape.to_vec();
    s.insert(s.len() - 1, 1);
    let dx = try_conv2d_backward_input(
        &grad_out.unsqueeze(-2),
        &weight.unsqueeze(-2),
        &s,
        &opts.to_2d(),
    )
    .map_err(|e| rename_1d(e, OP, grad_out.shape(), weight.shape()))?;
    Ok(dx.squeeze(-2))
}

/// Gradient of [`Tensor::conv1d`] with respect to its weight (`torch.nn.grad.conv1d_weight`).
/// Returns a contiguous tensor of `weight_shape` (`[Cout, C/groups, k]`).
///
/// # Panics
/// If the shapes, options or dtypes are inconsistent (see [`try_conv1d_backward_weight`]).
#[track_caller]
pub fn conv1d_backward_weight(
    grad_out: &Tensor,
    input: &Tensor,
    weight_shape: &[usize],
    opts: &Conv1dOptions,
) -> Tensor {
    or_panic(try_conv1d_backward_weight(
        grad_out,
        input,
        weight_shape,
        opts,
    ))
}

/// Fallible [`conv1d_backward_weight`].
///
/// # Errors
/// If `input` and `weight_shape` are not a valid [`Tensor::conv1d`] problem under `opts`,
/// `grad_out` does not have its output shape, or the dtypes are not one float type.
pub fn try_conv1d_backward_weight(
    grad_out: &Tensor,
    input: &Tensor,
    weight_shape: &[usize],
    opts: &Conv1dOptions,
) -> Result<Tensor> {
    const OP: &str = "conv1d_backward_weight";
    check_1d(OP, input.shape(), weight_shape)?;
    let ws = [weight_shape[0], weight_shape[1], 1, weight_shape[2]];
    let dw = try_conv2d_backward_weight(
        &grad_out.unsqueeze(-2),
        &input.unsqueeze(-2),
        &ws,
        &opts.to_2d(),
    )
    .map_err(|e| rename_1d(e, OP, grad_out.shape(), weight_shape))?;
    Ok(dw.squeeze(-2))
}

/// Gradient of [`Tensor::conv1d`] with respect to its bias: `grad_out` summed over the batch
/// and length dims (`grad_output.sum((0, 2))`; `(1,)` if unbatched).
///
/// # Panics
/// If `grad_out` is not 2-D or 3-D or not float.
#[track_caller]
pub fn conv1d_backward_bias(grad_out: &Tensor) -> Tensor {
    or_panic(try_conv1d_backward_bias(grad_out))
}

/// Fallible [`conv1d_backward_bias`].
///
/// # Errors
/// If `grad_out` is not 2-D or 3-D or not float.
pub fn try_conv1d_backward_bias(grad_out: &Tensor) -> Result<Tensor> {
    bias_grad("conv1d_backward_bias", grad_out, 1)
}

/// Gradient of [`Tensor::conv_transpose2d`] with respect to its input: the forward `conv2d`
/// of `grad_out` with the same weight, stride, padding, dilation and groups.
///
/// `input_shape` is the forward input's shape (`[N, Cin, H, W]` or unbatched); returns a
/// contiguous tensor of that shape.
///
/// # Panics
/// If the shapes, options or dtypes are inconsistent (see
/// [`try_conv_transpose2d_backward_input`]).
#[track_caller]
pub fn conv_transpose2d_backward_input(
    grad_out: &Tensor,
    weight: &Tensor,
    input_shape: &[usize],
    opts: &ConvTranspose2dOptions,
) -> Tensor {
    or_panic(try_conv_transpose2d_backward_input(
        grad_out,
        weight,
        input_shape,
        opts,
    ))
}

/// Fallible [`conv_transpose2d_backward_input`].
///
/// # Errors
/// If `input_shape` and `weight` are not a valid [`Tensor::conv_transpose2d`] problem under
/// `opts`, `grad_out` does not have its output shape, or the dtypes are not one float type.
pub fn try_conv_transpose2d_backward_input(
    grad_out: &Tensor,
    weight: &Tensor,
    input_shape: &[usize],
    opts: &ConvTranspose2dOptions,
) -> Result<Tensor> {
    const OP: &str = "conv_transpose2d_backward_input";
    let d = same_float(OP, &[grad_out, weight])?;
    let (s, unbatched) = shape4(OP, input_shape, weight.shape())?;
    let g = transpose_geom(OP, &s, weight.shape(), opts)?;
    let gy = grad4(OP, grad_out, unbatched, g.input_shape())?;
    let dx = with_float!(d, OP, T => conv_forward::<T>(&gy, weight, None, &g))?;
    Ok(unbatch(dx, unbatched))
}

/// Gradient of [`Tensor::conv_transpose2d`] with respect to its weight
/// (`[Cin, Cout/groups, kh, kw]`): `Σ_n input[n] ⊛ grad_out[n]`.
///
/// `input` is the forward input (any strides); returns a contiguous tensor of `weight_shape`.
///
/// # Panics
/// If the shapes, options or dtypes are inconsistent (see
/// [`try_conv_transpose2d_backward_weight`]).
#[track_caller]
pub fn conv_transpose2d_backward_weight(
    grad_out: &Tensor,
    input: &Tensor,
    weight_shape: &[usize],
    opts: &ConvTranspose2dOptions,
) -> Tensor {
    or_panic(try_conv_transpose2d_backward_weight(
        grad_out,
        input,
        weight_shape,
        opts,
    ))
}

/// Fallible [`conv_transpose2d_backward_weight`].
///
/// # Errors
/// If `input` and `weight_shape` are not a valid [`Tensor::conv_transpose2d`] problem under
/// `opts`, `grad_out` does not have its output shape, or the dtypes are not one float type.
pub fn try_conv_transpose2d_backward_weight(
    grad_out: &Tensor,
    input: &Tensor,
    weight_shape: &[usize],
    opts: &ConvTranspose2dOptions,
) -> Result<Tensor> {
    const OP: &str = "conv_transpose2d_backward_weight";
    let d = same_float(OP, &[grad_out, input])?;
    let (x, unbatched) = batched4(OP, input, weight_shape)?;
    let g = transpose_geom(OP, x.shape(), weight_shape, opts)?;
    let gy = grad4(OP, grad_out, unbatched, g.input_shape())?;
    // conv_transpose2d's input plays the forward conv's upstream gradient and its upstream
    // gradient the forward conv's input.
    with_float!(d, OP, T => conv_backward_weight::<T>(&x, &gy, &g))
}

/// Gradient of [`Tensor::conv_transpose2d`] with respect to its bias: `grad_out` summed over
/// the batch and spatial dims.
///
/// # Panics
/// If `grad_out` is not 3-D or 4-D or not float.
#[track_caller]
pub fn conv_transpose2d_backward_bias(grad_out: &Tensor) -> Tensor {
    or_panic(try_conv_transpose2d_backward_bias(grad_out))
}

/// Fallible [`conv_transpose2d_backward_bias`].
///
/// # Errors
/// If `grad_out` is not 3-D or 4-D or not float.
pub fn try_conv_transpose2d_backward_bias(grad_out: &Tensor) -> Result<Tensor> {
    bias_grad("conv_transpose2d_backward_bias", grad_out, 2)
}
