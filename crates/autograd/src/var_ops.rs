//! The differentiable operations on [`Var`] beyond the elementwise tables: selection,
//! reductions, `matmul`, shapes and concatenation. Each computes its value with `tuna-tensor`
//! and records itself on the tape. Names and semantics follow PyTorch.
//!
//! Every op that can fail on its arguments' shapes has a `try_` twin returning
//! [`TensorError`](tuna_tensor::TensorError) (the op name and the shapes involved), so a caller
//! can recover from a bad shape without `catch_unwind`; the plain method panics with the same
//! message, as PyTorch raises.

use tuna_tensor::layout::Dims;
use tuna_tensor::{matmul_shape, normalize_dim, normalize_dims, Result, Tensor, TensorError};

use crate::op::{Op, ReduceOp};
use crate::tape::{Tape, Var};

/// Defines each panicking method as its `try_` twin unwrapped, with the twin's doc pointing
/// back: `fn name => try_name(args) -> Ret;`.
macro_rules! panicking {
    ($($(#[$doc:meta])* fn $name:ident => $try_name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        impl<'t> Var<'t> {
            $(
                $(#[$doc])*
                ///
                /// # Panics
                #[doc = concat!(
                    "Where [`Var::", stringify!($try_name),
                    "`] returns an error; the message names the op and the shapes."
                )]
                #[track_caller]
                pub fn $name(self, $($arg: $ty),*) -> $ret {
                    crate::or_panic(self.$try_name($($arg),*))
                }
            )*
        }
    };
}

impl<'t> Var<'t> {
    /// Records `op` with `value = f(self)` if `f` succeeds.
    fn try_map(self, f: impl FnOnce(&Tensor) -> Result<Tensor>, op: Op) -> Result<Var<'t>> {
        let v = f(&self.tape.nodes.borrow()[self.id].value)?;
        Ok(Var::record(self.tape, v, op, &[self.id]))
    }

    /// Records a view or copy whose gradient is a reshape back (`Op::Reshape`).
    fn try_reshaped(self, f: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<Var<'t>> {
        self.try_map(f, Op::Reshape(self.id))
    }

    /// `x` where `cond` (a bool tensor) is true, else `other`, broadcasting all three
    /// (`torch.where(cond, x, other)`).
    ///
    /// # Errors
    /// If the shapes do not broadcast or `cond` is not bool.
    pub fn try_where_cond(self, cond: &Tensor, other: Var<'t>) -> Result<Var<'t>> {
        let v = {
            let nodes = self.tape.nodes.borrow();
            cond.try_where_cond(&nodes[self.id].value, &nodes[other.id].value)?
        };
        let op = Op::Where {
            cond: cond.clone(),
            a: self.id,
            b: other.id,
        };
        Ok(Var::record(self.tape, v, op, &[self.id, other.id]))
    }

    /// Fallible [`Var::masked_fill`].
    ///
    /// # Errors
    /// If the mask is not bool or does not broadcast to the input.
    pub fn try_masked_fill(self, mask: &Tensor, value: f64) -> Result<Var<'t>> {
        let v = self.tape.nodes.borrow()[self.id]
            .value
            .try_masked_fill(mask, value)?;
        let op = Op::MaskedFill(self.id, mask.expand(v.shape()));
        Ok(Var::record(self.tape, v, op, &[self.id]))
    }

    // --------------------------------------------------------------------------------------
    // reductions

    /// Records `op` over `dims` (all if empty).
    fn try_reduce(
        self,
        op: ReduceOp,
        name: &'static str,
        dims: &[isize],
        keepdim: bool,
    ) -> Result<Var<'t>> {
        let resolved: Dims = normalize_dims(name, dims, self.rank())?;
        self.try_map(
            |t| op.forward(t, dims, keepdim),
            Op::Reduce {
                arg: self.id,
                op,
                dims: resolved,
                keepdim,
            },
        )
    }

    /// Sum of all elements (`torch.sum(x)`).
    pub fn sum(self) -> Var<'t> {
        self.sum_dims(&[], false)
    }

    /// Fallible [`Var::sum_dims`].
    ///
    /// # Errors
    /// If a dim is out of range or repeated, or the input is not float.
    pub fn try_sum_dims(self, dims: &[isize], keepdim: bool) -> Result<Var<'t>> {
        self.try_reduce(ReduceOp::Sum, "sum", dims, keepdim)
    }

    /// Mean of all elements (`torch.mean(x)`).
    pub fn mean(self) -> Var<'t> {
        self.mean_dims(&[], false)
    }

    /// Fallible [`Var::mean_dims`].
    ///
    /// # Errors
    /// If a dim is out of range or repeated, or the input is not float.
    pub fn try_mean_dims(self, dims: &[isize], keepdim: bool) -> Result<Var<'t>> {
        self.try_reduce(ReduceOp::Mean, "mean", dims, keepdim)
    }

    /// Fallible [`Var::amax`].
    ///
    /// # Errors
    /// If a dim is out of range, repeated or empty, or the input is not float.
    pub fn try_amax(self, dims: &[isize], keepdim: bool) -> Result<Var<'t>> {
        self.try_reduce(ReduceOp::Amax, "amax", dims, keepdim)
    }

    /// Fallible [`Var::amin`].
    ///
    /// # Errors
    /// If a dim is out of range, repeated or empty, or the input is not float.
    pub fn try_amin(self, dims: &[isize], keepdim: bool) -> Result<Var<'t>> {
        self.try_reduce(ReduceOp::Amin, "amin", dims, keepdim)
    }

    /// Maximum of all elements (`torch.max(x)`), gradient shared among ties.
    #[track_caller]
    pub fn max(self) -> Var<'t> {
        self.amax(&[], false)
    }

    /// Minimum of all elements (`torch.min(x)`), gradient shared among ties.
    #[track_caller]
    pub fn min(self) -> Var<'t> {
        self.amin(&[], false)
    }

    /// Maximum along `dim` and the (i64, non-differentiable) index of the first maximum
    /// (`torch.max(x, dim, keepdim)`); the gradient goes to that index.
    ///
    /// # Panics
    /// Where [`Var::try_max_dim`] returns an error.
    #[track_caller]
    pub fn max_dim(self, dim: isize, keepdim: bool) -> (Var<'t>, Tensor) {
        crate::or_panic(self.try_extreme_dim(dim, keepdim, true))
    }

    /// Fallible [`Var::max_dim`].
    ///
    /// # Errors
    /// If `dim` is out of range or empty, or the input is not float.
    pub fn try_max_dim(self, dim: isize, keepdim: bool) -> Result<(Var<'t>, Tensor)> {
        self.try_extreme_dim(dim, keepdim, true)
    }

    /// Minimum along `dim` and its index (`torch.min(x, dim, keepdim)`).
    ///
    /// # Panics
    /// Where [`Var::try_min_dim`] returns an error.
    #[track_caller]
    pub fn min_dim(self, dim: isize, keepdim: bool) -> (Var<'t>, Tensor) {
        crate::or_panic(self.try_extreme_dim(dim, keepdim, false))
    }

    /// Fallible [`Var::min_dim`].
    ///
    /// # Errors
    /// If `dim` is out of range or empty, or the input is not float.
    pub fn try_min_dim(self, dim: isize, keepdim: bool) -> Result<(Var<'t>, Tensor)> {
        self.try_extreme_dim(dim, keepdim, false)
    }

    fn try_extreme_dim(self, dim: isize, keepdim: bool, is_max: bool) -> Result<(Var<'t>, Tensor)> {
        let (v, i) = {
            let t = &self.tape.nodes.borrow()[self.id].value;
            if is_max {
                t.try_max_dim(dim, keepdim)?
            } else {
                t.try_min_dim(dim, keepdim)?
            }
        };
        let resolved = normalize_dim("max", dim, self.rank())?;
        let indices = if keepdim || self.rank() == 0 {
            i.clone()
        } else {
            i.unsqueeze(resolved as isize)
        };
        let op = Op::ExtremeDim {
            arg: self.id,
            dim: resolved,
            indices,
        };
        Ok((Var::record(self.tape, v, op, &[self.id]), i))
    }

    /// Fallible [`Var::var_dims`].
    ///
    /// # Errors
    /// If a dim is out of range or repeated, or the input is not float.
    pub fn try_var_dims(self, dims: &[isize], correction: f64, keepdim: bool) -> Result<Var<'t>> {
        self.try_reduce(ReduceOp::Var { correction }, "var", dims, keepdim)
    }

    /// Fallible [`Var::std_dims`].
    ///
    /// # Errors
    /// If a dim is out of range or repeated, or the input is not float.
    pub fn try_std_dims(self, dims: &[isize], correction: f64, keepdim: bool) -> Result<Var<'t>> {
        Ok(self.try_var_dims(dims, correction, keepdim)?.sqrt())
    }

    /// Fallible [`Var::logsumexp`].
    ///
    /// # Errors
    /// If a dim is out of range, repeated or empty, or the input is not float.
    pub fn try_logsumexp(self, dims: &[isize], keepdim: bool) -> Result<Var<'t>> {
        self.try_reduce(ReduceOp::LogSumExp, "logsumexp", dims, keepdim)
    }

    /// Fallible [`Var::softmax`].
    ///
    /// # Errors
    /// If `dim` is out of range or the input is not float.
    pub fn try_softmax(self, dim: isize) -> Result<Var<'t>> {
        self.try_map(|t| t.try_softmax(dim), Op::Softmax(self.id, dim))
    }

    /// Fallible [`Var::log_softmax`].
    ///
    /// # Errors
    /// If `dim` is out of range or the input is not float.
    pub fn try_log_softmax(self, dim: isize) -> Result<Var<'t>> {
        self.try_map(|t| t.try_log_softmax(dim), Op::LogSoftmax(self.id, dim))
    }

    // --------------------------------------------------------------------------------------
    // linear algebra

    /// Fallible [`Var::matmul`].
    ///
    /// # Errors
    /// If an operand is 0-d, the inner dimensions differ, the batch dims do not broadcast, or
    /// an operand is not float; the error names `matmul` and both shapes.
    pub fn try_matmul(self, other: Var<'t>) -> Result<Var<'t>> {
        matmul_shape(&self.shape(), &other.shape())?;
        let (ra, rb) = (self.rank(), other.rank());
        if ra == 1 && rb == 1 {
            return Ok(self
                .unsqueeze(0)
                .try_matmul(other.unsqueeze(1))?
                .reshape(&[]));
        }
        if ra == 1 {
            return Ok(self.unsqueeze(0).try_matmul(other)?.squeeze(-2));
        }
        if rb == 1 {
            return Ok(self.try_matmul(other.unsqueeze(1))?.squeeze(-1));
        }
        let v = {
            let nodes = self.tape.nodes.borrow();
            nodes[self.id].value.try_matmul(&nodes[other.id].value)?
        };
        let op = Op::Matmul(self.id, other.id);
        Ok(Var::record(self.tape, v, op, &[self.id, other.id]))
    }

    // --------------------------------------------------------------------------------------
    // shape

    /// Fallible [`Var::reshape`].
    ///
    /// # Errors
    /// If the element counts differ or more than one size is -1.
    pub fn try_reshape(self, shape: &[isize]) -> Result<Var<'t>> {
        self.try_reshaped(|t| t.try_reshape(shape))
    }

    /// Reshapes without copying, or fails if the strides do not allow it (`tensor.view`).
    ///
    /// # Errors
    /// If the element counts differ or the layout needs a copy (use [`Var::reshape`]).
    pub fn view(self, shape: &[isize]) -> Result<Var<'t>> {
        self.try_reshaped(|t| t.view(shape))
    }

    /// Fallible [`Var::flatten`].
    ///
    /// # Errors
    /// If a dim is out of range or `start` comes after `end`.
    pub fn try_flatten(self, start: isize, end: isize) -> Result<Var<'t>> {
        self.try_reshaped(|t| t.try_flatten(start, end))
    }

    /// Fallible [`Var::unsqueeze`].
    ///
    /// # Errors
    /// If `dim` is outside `-(rank+1)..=rank`.
    pub fn try_unsqueeze(self, dim: isize) -> Result<Var<'t>> {
        self.try_reshaped(|t| t.try_unsqueeze(dim))
    }

    /// Fallible [`Var::squeeze`].
    ///
    /// # Errors
    /// If `dim` is out of range.
    pub fn try_squeeze(self, dim: isize) -> Result<Var<'t>> {
        self.try_reshaped(|t| t.try_squeeze(dim))
    }

    /// Fallible [`Var::transpose`].
    ///
    /// # Errors
    /// If a dim is out of range.
    pub fn try_transpose(self, d0: isize, d1: isize) -> Result<Var<'t>> {
        let op = Op::Transpose {
            arg: self.id,
            d0,
            d1,
        };
        self.try_map(|t| t.try_transpose(d0, d1), op)
    }

    /// Swaps the last two dims (`tensor.mT`); 1-D is unchanged.
    pub fn t(self) -> Var<'t> {
        if self.rank() < 2 {
            self
        } else {
            self.transpose(-2, -1)
        }
    }

    /// Fallible [`Var::permute`].
    ///
    /// # Errors
    /// If `dims` is not a permutation of the input's dims.
    pub fn try_permute(self, dims: &[isize]) -> Result<Var<'t>> {
        let rank = self.rank();
        let resolved = dims
            .iter()
            .map(|&d| normalize_dim("permute", d, rank))
            .collect::<Result<Dims>>()?;
        self.try_map(|t| t.try_permute(dims), Op::Permute(self.id, resolved))
    }

    /// Fallible [`Var::narrow`].
    ///
    /// # Errors
    /// If `dim` is out of range or the range exceeds it.
    pub fn try_narrow(self, dim: isize, start: usize, len: usize) -> Result<Var<'t>> {
        let op = Op::Slice {
            arg: self.id,
            dim,
            start,
            end: start + len,
            step: 1,
        };
        self.try_map(|t| t.try_narrow(dim, start, len), op)
    }

    /// Fallible [`Var::slice`].
    ///
    /// # Errors
    /// If `dim` is out of range or `step` is 0.
    pub fn try_slice(self, dim: isize, start: usize, end: usize, step: usize) -> Result<Var<'t>> {
        let op = Op::Slice {
            arg: self.id,
            dim,
            start,
            end,
            step,
        };
        self.try_map(|t| t.try_slice(dim, start, end, step), op)
    }

    /// Fallible [`Var::select`].
    ///
    /// # Errors
    /// If `dim` or `index` is out of range.
    pub fn try_select(self, dim: isize, index: usize) -> Result<Var<'t>> {
        self.try_narrow(dim, index, 1)?.try_squeeze(dim)
    }

    /// Fallible [`Var::expand`].
    ///
    /// # Errors
    /// If the input does not broadcast to `shape`.
    pub fn try_expand(self, shape: &[usize]) -> Result<Var<'t>> {
        self.try_map(|t| t.try_expand(shape), Op::Expand(self.id))
    }

    /// A contiguous copy if needed (`tensor.contiguous()`); gradient passes unchanged.
    pub fn contiguous(self) -> Var<'t> {
        Var::record(
            self.tape,
            self.value().contiguous(),
            Op::Reshape(self.id),
            &[self.id],
        )
    }

    /// Fallible [`Var::split`].
    ///
    /// # Errors
    /// If `split_size` is 0 or `dim` is out of range.
    pub fn try_split(self, split_size: usize, dim: isize) -> Result<Vec<Var<'t>>> {
        if split_size == 0 {
            return Err(TensorError::invalid("split", "split_size must be positive"));
        }
        let n = self.shape()[normalize_dim("split", dim, self.rank())?];
        (0..n.div_ceil(split_size))
            .map(|i| {
                let s = i * split_size;
                self.try_narrow(dim, s, split_size.min(n - s))
            })
            .collect()
    }

    /// Fallible [`Var::chunk`].
    ///
    /// # Errors
    /// If `chunks` is 0 or `dim` is out of range.
    pub fn try_chunk(self, chunks: usize, dim: isize) -> Result<Vec<Var<'t>>> {
        if chunks == 0 {
            return Err(TensorError::invalid("chunk", "chunks must be positive"));
        }
        let n = self.shape()[normalize_dim("chunk", dim, self.rank())?];
        self.try_split(n.div_ceil(chunks).max(1), dim)
    }
}

panicking! {
    /// `x` where `cond` (a bool tensor) is true, else `other`, broadcasting all three
    /// (`torch.where(cond, x, other)`).
    fn where_cond => try_where_cond(cond: &Tensor, other: Var<'t>) -> Var<'t>;
    /// Replaces elements where `mask` is true by `value` (`tensor.masked_fill(mask, value)`).
    fn masked_fill => try_masked_fill(mask: &Tensor, value: f64) -> Var<'t>;
    /// Sum over `dims` (all if empty) (`torch.sum(x, dim, keepdim)`).
    fn sum_dims => try_sum_dims(dims: &[isize], keepdim: bool) -> Var<'t>;
    /// Mean over `dims` (all if empty) (`torch.mean(x, dim, keepdim)`).
    fn mean_dims => try_mean_dims(dims: &[isize], keepdim: bool) -> Var<'t>;
    /// Maximum over `dims` (all if empty); tied maxima share the gradient (`torch.amax`).
    fn amax => try_amax(dims: &[isize], keepdim: bool) -> Var<'t>;
    /// Minimum over `dims` (all if empty); tied minima share the gradient (`torch.amin`).
    fn amin => try_amin(dims: &[isize], keepdim: bool) -> Var<'t>;
    /// Variance over `dims` with `correction` (1 = unbiased) (`torch.var`).
    fn var_dims => try_var_dims(dims: &[isize], correction: f64, keepdim: bool) -> Var<'t>;
    /// Standard deviation over `dims` with `correction` (`torch.std`).
    fn std_dims => try_std_dims(dims: &[isize], correction: f64, keepdim: bool) -> Var<'t>;
    /// `log Σ exp(x)` over `dims`, stable (`torch.logsumexp`).
    fn logsumexp => try_logsumexp(dims: &[isize], keepdim: bool) -> Var<'t>;
    /// Softmax along `dim` (`F.softmax(x, dim)`).
    fn softmax => try_softmax(dim: isize) -> Var<'t>;
    /// Log-softmax along `dim` (`F.log_softmax(x, dim)`).
    fn log_softmax => try_log_softmax(dim: isize) -> Var<'t>;
    /// Matrix product with `torch.matmul` semantics (1-D operands promoted and squeezed,
    /// batch dims broadcast).
    fn matmul => try_matmul(other: Var<'t>) -> Var<'t>;
    /// Reshape (one size may be -1) (`tensor.reshape`).
    fn reshape => try_reshape(shape: &[isize]) -> Var<'t>;
    /// Merges dims `start..=end` (`torch.flatten`).
    fn flatten => try_flatten(start: isize, end: isize) -> Var<'t>;
    /// Inserts a size-1 dim (`tensor.unsqueeze`).
    fn unsqueeze => try_unsqueeze(dim: isize) -> Var<'t>;
    /// Removes `dim` if it has size 1 (`tensor.squeeze(dim)`).
    fn squeeze => try_squeeze(dim: isize) -> Var<'t>;
    /// Swaps two dims (`tensor.transpose`).
    fn transpose => try_transpose(d0: isize, d1: isize) -> Var<'t>;
    /// Reorders dims (`tensor.permute`).
    fn permute => try_permute(dims: &[isize]) -> Var<'t>;
    /// Elements `start..start+len` of `dim` (`tensor.narrow`).
    fn narrow => try_narrow(dim: isize, start: usize, len: usize) -> Var<'t>;
    /// `x[..., start:end:step, ...]` on `dim`.
    fn slice => try_slice(dim: isize, start: usize, end: usize, step: usize) -> Var<'t>;
    /// Element `index` of `dim`, removing the dim (`tensor.select`).
    fn select => try_select(dim: isize, index: usize) -> Var<'t>;
    /// Broadcasts to `shape` (`tensor.expand`); the gradient sums back.
    fn expand => try_expand(shape: &[usize]) -> Var<'t>;
    /// Splits `dim` into pieces of `split_size` (the last may be smaller), as views
    /// (`torch.split`).
    fn split => try_split(split_size: usize, dim: isize) -> Vec<Var<'t>>;
    /// Splits `dim` into `chunks` nearly equal pieces (`torch.chunk`).
    fn chunk => try_chunk(chunks: usize, dim: isize) -> Vec<Var<'t>>;
}

impl Tape {
    /// Concatenates along `dim` (`torch.cat`).
    ///
    /// # Panics
    /// Where [`Tape::try_cat`] returns an error.
    #[track_caller]
    pub fn cat<'t>(&'t self, vars: &[Var<'t>], dim: isize) -> Var<'t> {
        crate::or_panic(self.try_cat(vars, dim))
    }

    /// Fallible [`Tape::cat`].
    ///
    /// # Errors
    /// If `vars` is empty, the dtypes differ, or the shapes differ outside `dim`.
    pub fn try_cat<'t>(&'t self, vars: &[Var<'t>], dim: isize) -> Result<Var<'t>> {
        let v = {
            let nodes = self.nodes.borrow();
            let ts: Vec<&Tensor> = vars.iter().map(|v| &nodes[v.id].value).collect();
            Tensor::try_cat(&ts, dim)?
        };
        let ids: Vec<usize> = vars.iter().map(|v| v.id).collect();
        Ok(Var::record(self, v, Op::Cat(ids.clone(), dim), &ids))
    }

    /// Stacks along a new `dim` (`torch.stack`).
    ///
    /// # Panics
    /// Where [`Tape::try_stack`] returns an error.
    #[track_caller]
    pub fn stack<'t>(&'t self, vars: &[Var<'t>], dim: isize) -> Var<'t> {
        crate::or_panic(self.try_stack(vars, dim))
    }

    /// Fallible [`Tape::stack`].
    ///
    /// # Errors
    /// If `vars` is empty, the shapes differ, or `dim` is out of range.
    pub fn try_stack<'t>(&'t self, vars: &[Var<'t>], dim: isize) -> Result<Var<'t>> {
        if let Some(first) = vars.first() {
            let shape = first.shape();
            if let Some(other) = vars.iter().find(|v| v.shape() != shape) {
                return Err(TensorError::ShapeMismatch {
                    op: "stack",
                    lhs: shape.to_vec(),
                    rhs: other.shape().to_vec(),
                    expected: "every tensor to have the same shape".into(),
                });
            }
        }
        let un = vars
            .iter()
            .map(|v| v.try_unsqueeze(dim))
            .collect::<Result<Vec<Var<'t>>>>()?;
        self.try_cat(&un, dim)
    }
}

macro_rules! var_operators {
    ($($trait:ident, $method:ident, $fn:ident, $scalar:expr, $rscalar:expr;)*) => {
        $(
            impl<'t> std::ops::$trait<Var<'t>> for Var<'t> {
                type Output = Var<'t>;
                #[track_caller]
                fn $method(self, rhs: Var<'t>) -> Var<'t> {
                    Var::$fn(self, rhs)
                }
            }
            impl<'t> std::ops::$trait<f64> for Var<'t> {
                type Output = Var<'t>;
                fn $method(self, rhs: f64) -> Var<'t> {
                    let f: fn(Var<'t>, f64) -> Var<'t> = $scalar;
                    f(self, rhs)
                }
            }
            impl<'t> std::ops::$trait<Var<'t>> for f64 {
                type Output = Var<'t>;
                fn $method(self, rhs: Var<'t>) -> Var<'t> {
                    let f: fn(f64, Var<'t>) -> Var<'t> = $rscalar;
                    f(self, rhs)
                }
            }
        )*
    };
}

var_operators! {
    Add, add, add, |v, s| v.add_scalar(s), |s, v| v.add_scalar(s);
    Sub, sub, sub, |v, s| v.add_scalar(-s), |s, v| v.neg().add_scalar(s);
    Mul, mul, mul, |v, s| v.mul_scalar(s), |s, v| v.mul_scalar(s);
    Div, div, div, |v, s| v.mul_scalar(1.0 / s), |s, v| v.reciprocal().mul_scalar(s);
}

impl<'t> std::ops::Neg for Var<'t> {
    type Output = Var<'t>;
    fn neg(self) -> Var<'t> {
        Var::neg(self)
    }
}
