//! The public forward convolutions on [`Tensor`]: `conv2d`, `conv1d`, `conv_transpose2d` and
//! their `try_` twins.

use crate::error::{or_panic, Result, TensorError};
use crate::tensor::Tensor;
use crate::with_float;

use super::checks::*;
use super::geom::{conv_geom, mismatch, transpose_geom};
use super::kernels::*;
use super::options::{Conv1dOptions, Conv2dOptions, ConvTranspose2dOptions};

impl Tensor {
    /// 2-D convolution (`torch.nn.functional.conv2d(input, weight, bias, stride, padding,
    /// dilation, groups)`), strictly a cross-correlation as in PyTorch.
    ///
    /// `self` is `[N, C, H, W]` or unbatched `[C, H, W]`, `weight` is
    /// `[Cout, C/groups, kh, kw]`, `bias` is `[Cout]`. The result is `[N, Cout, OH, OW]` (or
    /// `[Cout, OH, OW]`) with `OH = (H + 2·ph - dh·(kh-1) - 1)/sh + 1`. Any input strides are
    /// read in place.
    ///
    /// # Panics
    /// If the shapes, options or dtypes are invalid (see [`Tensor::try_conv2d`]); the message
    /// names `conv2d` and both shapes.
    #[track_caller]
    pub fn conv2d(&self, weight: &Tensor, bias: Option<&Tensor>, opts: &Conv2dOptions) -> Tensor {
        or_panic(self.try_conv2d(weight, bias, opts))
    }

    /// Fallible [`Tensor::conv2d`].
    ///
    /// # Errors
    /// If the input is not 3-D/4-D, the weight is not 4-D, the channels do not match
    /// `weight.shape[1]·groups`, `Cout` is not divisible by `groups`, the bias is not `[Cout]`,
    /// the dilated kernel exceeds the padded input, stride/dilation/groups are 0, `"same"`
    /// padding is combined with a stride, or the dtypes are not one float type.
    pub fn try_conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        opts: &Conv2dOptions,
    ) -> Result<Tensor> {
        const OP: &str = "conv2d";
        let mut ts = vec![self, weight];
        ts.extend(bias);
        let d = same_float(OP, &ts)?;
        let (x, unbatched) = batched4(OP, self, weight.shape())?;
        let g = conv_geom(OP, x.shape(), weight.shape(), opts)?;
        check_bias(OP, bias, g.cout)?;
        let out = with_float!(d, OP, T => conv_forward::<T>(&x, weight, bias, &g))?;
        Ok(unbatch(out, unbatched))
    }

    /// 1-D convolution (`torch.nn.functional.conv1d`): `self` is `[N, C, L]` or unbatched
    /// `[C, L]`, `weight` is `[Cout, C/groups, k]`, `bias` is `[Cout]`; the result is
    /// `[N, Cout, OL]` (or `[Cout, OL]`). Computed as [`Tensor::conv2d`] with a height of 1.
    ///
    /// # Panics
    /// If the shapes, options or dtypes are invalid (see [`Tensor::try_conv1d`]).
    #[track_caller]
    pub fn conv1d(&self, weight: &Tensor, bias: Option<&Tensor>, opts: &Conv1dOptions) -> Tensor {
        or_panic(self.try_conv1d(weight, bias, opts))
    }

    /// Fallible [`Tensor::conv1d`].
    ///
    /// # Errors
    /// If the input is not 2-D/3-D, the weight is not 3-D, or anything
    /// [`Tensor::try_conv2d`] rejects.
    pub fn try_conv1d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        opts: &Conv1dOptions,
    ) -> Result<Tensor> {
        check_1d("conv1d", self.shape(), weight.shape())?;
        let out = self
            .unsqueeze(-2)
            .try_conv2d(&weight.unsqueeze(-2), bias, &opts.to_2d())
            .map_err(|e| rename_1d(e, "conv1d", self.shape(), weight.shape()))?;
        Ok(out.squeeze(-2))
    }

    /// 2-D transposed convolution (`torch.nn.functional.conv_transpose2d(input, weight, bias,
    /// stride, padding, output_padding, groups, dilation)`), the gradient of `conv2d` with
    /// respect to its input.
    ///
    /// `self` is `[N, Cin, H, W]` or unbatched `[Cin, H, W]`, `weight` is
    /// `[Cin, Cout/groups, kh, kw]`, `bias` is `[Cout]`. The result is `[N, Cout, OH, OW]` with
    /// `OH = (H-1)·sh - 2·ph + dh·(kh-1) + output_padding_h + 1`.
    ///
    /// # Panics
    /// If the shapes, options or dtypes are invalid (see [`Tensor::try_conv_transpose2d`]).
    #[track_caller]
    pub fn conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        opts: &ConvTranspose2dOptions,
    ) -> Tensor {
        or_panic(self.try_conv_transpose2d(weight, bias, opts))
    }

    /// Fallible [`Tensor::conv_transpose2d`].
    ///
    /// # Errors
    /// If the input is not 3-D/4-D, the weight is not 4-D or its first dim differs from the
    /// input channels, the channels are not divisible by `groups`, the bias is not `[Cout]`,
    /// `output_padding` is not smaller than stride or dilation, the output would be empty, or
    /// the dtypes are not one float type.
    pub fn try_conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        opts: &ConvTranspose2dOptions,
    ) -> Result<Tensor> {
        const OP: &str = "conv_transpose2d";
        let mut ts = vec![self, weight];
        ts.extend(bias);
        let d = same_float(OP, &ts)?;
        let (x, unbatched) = batched4(OP, self, weight.shape())?;
        let g = transpose_geom(OP, x.shape(), weight.shape(), opts)?;
        check_bias(OP, bias, g.c)?;
        let mut out = with_float!(d, OP, T => conv_backward_input::<T>(&x, weight, &g))?;
        if let Some(b) = bias {
            out = out.try_add(&b.reshape_to(&[g.c, 1, 1]))?;
        }
        Ok(unbatch(out, unbatched))
    }
}

pub(super) fn check_1d(op: &'static str, input: &[usize], weight: &[usize]) -> Result<()> {
    if !(input.len() == 2 || input.len() == 3) || weight.len() != 3 {
        return Err(mismatch(
            op,
            input,
            weight,
            "a 3-D (N, C, L) or unbatched 2-D (C, L) input and a 3-D weight".into(),
        ));
    }
    Ok(())
}

/// Renames a conv2d error raised on the unsqueezed 1-D problem.
pub(super) fn rename_1d(
    e: TensorError,
    op: &'static str,
    lhs: &[usize],
    rhs: &[usize],
) -> TensorError {
    match e {
        TensorError::ShapeMismatch { expected, .. } => mismatch(op, lhs, rhs, expected),
        TensorError::Invalid { message, .. } => TensorError::invalid(op, message),
        TensorError::DType { expected, got, .. } => TensorError::DType { op, expected, got },
        other => other,
    }
}
