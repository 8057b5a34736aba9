//! The differentiable operations on [`Var`]: each computes its value with `tuna-tensor` and
//! records itself on the tape. Names and semantics follow PyTorch.

use tuna_tensor::{GeluApprox, Tensor};

use crate::op::Op;
use crate::tape::{Tape, Var};

macro_rules! unary_vars {
    ($($(#[$doc:meta])* $name:ident => $variant:ident;)*) => {
        impl<'t> Var<'t> {
            $(
                $(#[$doc])*
                #[track_caller]
                pub fn $name(self) -> Var<'t> {
                    let v = self.tape.nodes.borrow()[self.id].value.$name();
                    Var::record(self.tape, v, Op::$variant(self.id), &[self.id])
                }
            )*
        }
    };
}

unary_vars! {
    /// `-x` (`torch.neg`).
    neg => Neg;
    /// `e^x` (`torch.exp`).
    exp => Exp;
    /// Natural log (`torch.log`).
    log => Log;
    /// `ln(1 + x)` (`torch.log1p`).
    log1p => Log1p;
    /// Square root (`torch.sqrt`).
    sqrt => Sqrt;
    /// `1 / sqrt(x)` (`torch.rsqrt`).
    rsqrt => Rsqrt;
    /// `x²` (`torch.square`).
    square => Square;
    /// `1 / x` (`torch.reciprocal`).
    reciprocal => Reciprocal;
    /// `|x|`; the gradient at 0 is 0 (`torch.abs`).
    abs => Abs;
    /// Sine (`torch.sin`).
    sin => Sin;
    /// Cosine (`torch.cos`).
    cos => Cos;
    /// Hyperbolic tangent (`torch.tanh`).
    tanh => Tanh;
    /// Logistic sigmoid (`torch.sigmoid`).
    sigmoid => Sigmoid;
    /// `max(x, 0)`; the gradient at 0 is 0 (`torch.relu`).
    relu => Relu;
    /// `x·sigmoid(x)` (`F.silu`).
    silu => Silu;
    /// `log(sigmoid(x))`, stable (`F.logsigmoid`).
    log_sigmoid => LogSigmoid;
}

macro_rules! binary_vars {
    ($($(#[$doc:meta])* $name:ident => $variant:ident;)*) => {
        impl<'t> Var<'t> {
            $(
                $(#[$doc])*
                ///
                /// # Panics
                /// If the shapes do not broadcast.
                #[track_caller]
                pub fn $name(self, other: Var<'t>) -> Var<'t> {
                    let v = {
                        let nodes = self.tape.nodes.borrow();
                        nodes[self.id].value.$name(&nodes[other.id].value)
                    };
                    Var::record(self.tape, v, Op::$variant(self.id, other.id), &[self.id, other.id])
                }
            )*
        }
    };
}

binary_vars! {
    /// `a + b` with broadcasting (`torch.add`).
    add => Add;
    /// `a - b` with broadcasting (`torch.sub`).
    sub => Sub;
    /// `a * b` with broadcasting (`torch.mul`).
    mul => Mul;
    /// `a / b` with broadcasting (`torch.div`).
    div => Div;
    /// `a ^ b` with broadcasting (`torch.pow`).
    pow => Pow;
    /// Elementwise maximum; ties split the gradient evenly (`torch.maximum`).
    maximum => Maximum;
    /// Elementwise minimum; ties split the gradient evenly (`torch.minimum`).
    minimum => Minimum;
}

impl<'t> Var<'t> {
    fn map(self, f: impl FnOnce(&Tensor) -> Tensor, op: Op) -> Var<'t> {
        let v = f(&self.tape.nodes.borrow()[self.id].value);
        Var::record(self.tape, v, op, &[self.id])
    }

    /// `x + s` (`tensor + s`).
    pub fn add_scalar(self, s: f64) -> Var<'t> {
        self.map(|t| t.add_scalar(s), Op::AddScalar(self.id))
    }

    /// `x * s` (`tensor * s`).
    pub fn mul_scalar(self, s: f64) -> Var<'t> {
        self.map(|t| t.mul_scalar(s), Op::MulScalar(self.id, s))
    }

    /// `x ^ e` for a scalar exponent (`torch.pow(x, e)`).
    pub fn pow_scalar(self, e: f64) -> Var<'t> {
        self.map(|t| t.pow_scalar(e), Op::PowScalar(self.id, e))
    }

    /// `a + alpha * b` (`torch.add(a, b, alpha=alpha)`).
    #[track_caller]
    pub fn add_scaled(self, other: Var<'t>, alpha: f64) -> Var<'t> {
        if alpha == 1.0 {
            self.add(other)
        } else {
            self.add(other.mul_scalar(alpha))
        }
    }

    /// `x` where positive, `negative_slope·x` elsewhere (`F.leaky_relu`, default slope 0.01).
    pub fn leaky_relu(self, negative_slope: f64) -> Var<'t> {
        self.map(
            |t| t.leaky_relu(negative_slope),
            Op::LeakyRelu(self.id, negative_slope),
        )
    }

    /// `x` where positive, `alpha·(e^x − 1)` elsewhere (`F.elu`, default alpha 1).
    pub fn elu(self, alpha: f64) -> Var<'t> {
        self.map(|t| t.elu(alpha), Op::Elu(self.id, alpha))
    }

    /// GELU, exact or tanh-approximated (`F.gelu(x, approximate=...)`).
    pub fn gelu(self, approximate: GeluApprox) -> Var<'t> {
        self.map(|t| t.gelu(approximate), Op::Gelu(self.id, approximate))
    }

    /// `log(1 + e^(βx))/β`, linear above `threshold` (`F.softplus`, defaults β=1, threshold=20).
    pub fn softplus(self, beta: f64, threshold: f64) -> Var<'t> {
        self.map(
            |t| t.softplus(beta, threshold),
            Op::Softplus(self.id, beta, threshold),
        )
    }

    /// Clamps into `[min, max]`; the gradient passes where `min <= x <= max` (`torch.clamp`).
    pub fn clamp(self, min: Option<f64>, max: Option<f64>) -> Var<'t> {
        self.map(|t| t.clamp(min, max), Op::Clamp(self.id, min, max))
    }

    /// `x` where `cond` (a bool tensor) is true, else `other`, broadcasting all three
    /// (`torch.where(cond, x, other)`).
    ///
    /// # Panics
    /// If the shapes do not broadcast or `cond` is not bool.
    #[track_caller]
    pub fn where_cond(self, cond: &Tensor, other: Var<'t>) -> Var<'t> {
        let v = {
            let nodes = self.tape.nodes.borrow();
            cond.where_cond(&nodes[self.id].value, &nodes[other.id].value)
        };
        Var::record(
            self.tape,
            v,
            Op::Where(cond.clone(), self.id, other.id),
            &[self.id, other.id],
        )
    }

    /// Replaces elements where `mask` is true by `value` (`tensor.masked_fill(mask, value)`).
    ///
    /// # Panics
    /// If the mask is not bool or does not broadcast to the input.
    #[track_caller]
    pub fn masked_fill(self, mask: &Tensor, value: f64) -> Var<'t> {
        let mask = mask.expand(&self.shape());
        self.map(
            |t| t.masked_fill(&mask, value),
            Op::MaskedFill(self.id, mask.clone()),
        )
    }

    // --------------------------------------------------------------------------------------
    // reductions

    /// Sum of all elements (`torch.sum(x)`).
    pub fn sum(self) -> Var<'t> {
        self.sum_dims(&[], false)
    }

    /// Sum over `dims` (all if empty) (`torch.sum(x, dim, keepdim)`).
    #[track_caller]
    pub fn sum_dims(self, dims: &[isize], keepdim: bool) -> Var<'t> {
        self.map(
            |t| t.sum_dims(dims, keepdim),
            Op::Sum(self.id, dims.to_vec(), keepdim),
        )
    }

    /// Mean of all elements (`torch.mean(x)`).
    pub fn mean(self) -> Var<'t> {
        self.mean_dims(&[], false)
    }

    /// Mean over `dims` (all if empty) (`torch.mean(x, dim, keepdim)`).
    #[track_caller]
    pub fn mean_dims(self, dims: &[isize], keepdim: bool) -> Var<'t> {
        self.map(
            |t| t.mean_dims(dims, keepdim),
            Op::Mean(self.id, dims.to_vec(), keepdim),
        )
    }

    /// Maximum over `dims` (all if empty); tied maxima share the gradient (`torch.amax`).
    #[track_caller]
    pub fn amax(self, dims: &[isize], keepdim: bool) -> Var<'t> {
        self.map(
            |t| t.amax(dims, keepdim),
            Op::Extreme(self.id, dims.to_vec(), keepdim),
        )
    }

    /// Minimum over `dims` (all if empty); tied minima share the gradient (`torch.amin`).
    #[track_caller]
    pub fn amin(self, dims: &[isize], keepdim: bool) -> Var<'t> {
        self.map(
            |t| t.amin(dims, keepdim),
            Op::Extreme(self.id, dims.to_vec(), keepdim),
        )
    }

    /// Maximum of all elements (`torch.max(x)`), gradient shared among ties.
    pub fn max(self) -> Var<'t> {
        self.amax(&[], false)
    }

    /// Minimum of all elements (`torch.min(x)`), gradient shared among ties.
    pub fn min(self) -> Var<'t> {
        self.amin(&[], false)
    }

    /// Maximum along `dim` and the (i64, non-differentiable) index of the first maximum
    /// (`torch.max(x, dim, keepdim)`); the gradient goes to that index.
    #[track_caller]
    pub fn max_dim(self, dim: isize, keepdim: bool) -> (Var<'t>, Tensor) {
        self.extreme_dim(dim, keepdim, true)
    }

    /// Minimum along `dim` and its index (`torch.min(x, dim, keepdim)`).
    #[track_caller]
    pub fn min_dim(self, dim: isize, keepdim: bool) -> (Var<'t>, Tensor) {
        self.extreme_dim(dim, keepdim, false)
    }

    #[track_caller]
    fn extreme_dim(self, dim: isize, keepdim: bool, is_max: bool) -> (Var<'t>, Tensor) {
        let (v, i) = {
            let t = &self.tape.nodes.borrow()[self.id].value;
            if is_max {
                t.max_dim(dim, keepdim)
            } else {
                t.min_dim(dim, keepdim)
            }
        };
        let keep = if keepdim { i.clone() } else { i.unsqueeze(dim) };
        let var = Var::record(self.tape, v, Op::ExtremeDim(self.id, dim, keep), &[self.id]);
        (var, i)
    }

    /// Variance over `dims` with `correction` (1 = unbiased) (`torch.var`).
    #[track_caller]
    pub fn var_dims(self, dims: &[isize], correction: f64, keepdim: bool) -> Var<'t> {
        self.map(
            |t| t.var_dims(dims, correction, keepdim),
            Op::Var(self.id, dims.to_vec(), correction, keepdim),
        )
    }

    /// Standard deviation over `dims` with `correction` (`torch.std`).
    #[track_caller]
    pub fn std_dims(self, dims: &[isize], correction: f64, keepdim: bool) -> Var<'t> {
        self.var_dims(dims, correction, keepdim).sqrt()
    }

    /// `log Σ exp(x)` over `dims`, stable (`torch.logsumexp`).
    #[track_caller]
    pub fn logsumexp(self, dims: &[isize], keepdim: bool) -> Var<'t> {
        self.map(
            |t| t.logsumexp(dims, keepdim),
            Op::LogSumExp(self.id, dims.to_vec(), keepdim),
        )
    }

    /// Softmax along `dim` (`F.softmax(x, dim)`).
    #[track_caller]
    pub fn softmax(self, dim: isize) -> Var<'t> {
        self.map(|t| t.softmax(dim), Op::Softmax(self.id, dim))
    }

    /// Log-softmax along `dim` (`F.log_softmax(x, dim)`).
    #[track_caller]
    pub fn log_softmax(self, dim: isize) -> Var<'t> {
        self.map(|t| t.log_softmax(dim), Op::LogSoftmax(self.id, dim))
    }

    // --------------------------------------------------------------------------------------
    // linear algebra

    /// Matrix product with `torch.matmul` semantics (1-D operands promoted and squeezed,
    /// batch dims broadcast).
    ///
    /// # Panics
    /// If the inner dimensions differ or batch dims do not broadcast.
    #[track_caller]
    pub fn matmul(self, other: Var<'t>) -> Var<'t> {
        let (ra, rb) = (self.rank(), other.rank());
        assert!(
            ra > 0 && rb > 0,
            "matmul: both arguments need at least 1 dimension, got shapes {:?} and {:?}",
            self.shape(),
            other.shape()
        );
        if ra == 1 && rb == 1 {
            return self.unsqueeze(0).matmul(other.unsqueeze(1)).reshape(&[]);
        }
        if ra == 1 {
            return self.unsqueeze(0).matmul(other).squeeze(-2);
        }
        if rb == 1 {
            return self.matmul(other.unsqueeze(1)).squeeze(-1);
        }
        let v = {
            let nodes = self.tape.nodes.borrow();
            nodes[self.id].value.matmul(&nodes[other.id].value)
        };
        Var::record(
            self.tape,
            v,
            Op::Matmul(self.id, other.id),
            &[self.id, other.id],
        )
    }

    // --------------------------------------------------------------------------------------
    // shape

    /// Reshape (one size may be -1) (`tensor.reshape`).
    ///
    /// # Panics
    /// If the element counts differ.
    #[track_caller]
    pub fn reshape(self, shape: &[isize]) -> Var<'t> {
        self.map(|t| t.reshape(shape), Op::Reshape(self.id))
    }

    /// Merges dims `start..=end` (`torch.flatten`).
    #[track_caller]
    pub fn flatten(self, start: isize, end: isize) -> Var<'t> {
        self.map(|t| t.flatten(start, end), Op::Reshape(self.id))
    }

    /// Inserts a size-1 dim (`tensor.unsqueeze`).
    #[track_caller]
    pub fn unsqueeze(self, dim: isize) -> Var<'t> {
        self.map(|t| t.unsqueeze(dim), Op::Reshape(self.id))
    }

    /// Removes `dim` if it has size 1 (`tensor.squeeze(dim)`).
    #[track_caller]
    pub fn squeeze(self, dim: isize) -> Var<'t> {
        self.map(|t| t.squeeze(dim), Op::Reshape(self.id))
    }

    /// Swaps two dims (`tensor.transpose`).
    #[track_caller]
    pub fn transpose(self, d0: isize, d1: isize) -> Var<'t> {
        self.map(|t| t.transpose(d0, d1), Op::Transpose(self.id, d0, d1))
    }

    /// Swaps the last two dims (`tensor.mT`); 1-D is unchanged.
    pub fn t(self) -> Var<'t> {
        if self.rank() < 2 {
            self
        } else {
            self.transpose(-2, -1)
        }
    }

    /// Reorders dims (`tensor.permute`).
    #[track_caller]
    pub fn permute(self, dims: &[isize]) -> Var<'t> {
        self.map(|t| t.permute(dims), Op::Permute(self.id, dims.to_vec()))
    }

    /// Elements `start..start+len` of `dim` (`tensor.narrow`).
    #[track_caller]
    pub fn narrow(self, dim: isize, start: usize, len: usize) -> Var<'t> {
        self.map(
            |t| t.narrow(dim, start, len),
            Op::Slice(self.id, dim, start, start + len, 1),
        )
    }

    /// `x[..., start:end:step, ...]` on `dim`.
    #[track_caller]
    pub fn slice(self, dim: isize, start: usize, end: usize, step: usize) -> Var<'t> {
        self.map(
            |t| t.slice(dim, start, end, step),
            Op::Slice(self.id, dim, start, end, step),
        )
    }

    /// Element `index` of `dim`, removing the dim (`tensor.select`).
    #[track_caller]
    pub fn select(self, dim: isize, index: usize) -> Var<'t> {
        self.narrow(dim, index, 1).squeeze(dim)
    }

    /// Broadcasts to `shape` (`tensor.expand`); the gradient sums back.
    #[track_caller]
    pub fn expand(self, shape: &[usize]) -> Var<'t> {
        self.map(|t| t.expand(shape), Op::Expand(self.id))
    }

    /// A contiguous copy if needed (`tensor.contiguous()`); gradient passes unchanged.
    pub fn contiguous(self) -> Var<'t> {
        self.map(|t| t.contiguous(), Op::Reshape(self.id))
    }

    /// Splits `dim` into pieces of `split_size` (the last may be smaller), as views
    /// (`torch.split`).
    #[track_caller]
    pub fn split(self, split_size: usize, dim: isize) -> Vec<Var<'t>> {
        assert!(split_size > 0, "split: split_size must be positive");
        let n = self.size(dim);
        (0..n.div_ceil(split_size))
            .map(|i| {
                let s = i * split_size;
                self.narrow(dim, s, split_size.min(n - s))
            })
            .collect()
    }

    /// Splits `dim` into `chunks` nearly equal pieces (`torch.chunk`).
    #[track_caller]
    pub fn chunk(self, chunks: usize, dim: isize) -> Vec<Var<'t>> {
        assert!(chunks > 0, "chunk: chunks must be positive");
        let n = self.size(dim);
        self.split(n.div_ceil(chunks).max(1), dim)
    }
}

impl Tape {
    /// Concatenates along `dim` (`torch.cat`).
    ///
    /// # Panics
    /// If `vars` is empty or the shapes differ outside `dim`.
    #[track_caller]
    pub fn cat<'t>(&'t self, vars: &[Var<'t>], dim: isize) -> Var<'t> {
        assert!(
            !vars.is_empty(),
            "cat: expected a non-empty list of tensors"
        );
        let v = {
            let nodes = self.nodes.borrow();
            let ts: Vec<&Tensor> = vars.iter().map(|v| &nodes[v.id].value).collect();
            Tensor::cat(&ts, dim)
        };
        let ids: Vec<usize> = vars.iter().map(|v| v.id).collect();
        Var::record(self, v, Op::Cat(ids.clone(), dim), &ids)
    }

    /// Stacks along a new `dim` (`torch.stack`).
    ///
    /// # Panics
    /// If `vars` is empty or the shapes differ.
    #[track_caller]
    pub fn stack<'t>(&'t self, vars: &[Var<'t>], dim: isize) -> Var<'t> {
        let un: Vec<Var<'t>> = vars.iter().map(|v| v.unsqueeze(dim)).collect();
        self.cat(&un, dim)
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
