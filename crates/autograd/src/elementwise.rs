//! The elementwise ops as data: a table of unary ops and a table of binary ops.
//!
//! An entry names the `Var` method (which calls the `Tensor` kernel of the same name), the
//! variant recorded on the tape, the PyTorch name of its backward and its gradient. The macros
//! turn each table into the op enum ([`UnaryOp`], [`BinaryOp`], recorded as `Op::Unary` and
//! `Op::Binary`), the `Var` methods and the gradient arms, so adding a unary op is two edits:
//! its kernel in `tuna-tensor`'s `unary_ops!` table and one entry here (the book's "Adding an
//! elementwise op" walks through `mish`).

use tuna_tensor::{GeluApprox, Result, Tensor};

use crate::op::Op;
use crate::tape::Var;

/// Defines [`UnaryOp`] and its `Var` methods from a table of
/// `method(params) => Variant, "NameBackward", |g, x, y| gradient;` entries, where `g` is
/// `d loss / d y`, `x` the input, `y = x.method(params)` the output and the gradient is
/// `d loss / d x`, all `&Tensor`s.
macro_rules! unary_ops {
    ($(
        $(#[$doc:meta])*
        $method:ident($($p:ident: $pt:ty),*) => $variant:ident, $name:literal,
            |$g:ident, $x:ident, $y:ident| $grad:expr;
    )*) => {
        /// An elementwise op of one input, with its non-tensor arguments.
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub(crate) enum UnaryOp {
            $($variant { $($p: $pt),* },)*
        }

        impl UnaryOp {
            /// The PyTorch-style name of the op's backward (`ExpBackward`, ...).
            pub(crate) fn name(&self) -> &'static str {
                match self {
                    $(UnaryOp::$variant { .. } => $name,)*
                }
            }

            /// The output: the tensor kernel of the same name.
            fn forward(&self, x: &Tensor) -> Tensor {
                match *self {
                    $(UnaryOp::$variant { $($p),* } => x.$method($($p),*),)*
                }
            }

            /// `d loss / d x` given `g = d loss / d y`, the input `x` and the output `y`.
            #[allow(unused_variables)]
            pub(crate) fn backward(&self, g: &Tensor, x: &Tensor, y: &Tensor) -> Tensor {
                match *self {
                    $(UnaryOp::$variant { $($p),* } => {
                        let ($g, $x, $y) = (g, x, y);
                        $grad
                    })*
                }
            }
        }

        impl<'t> Var<'t> {
            $(
                $(#[$doc])*
                pub fn $method(self, $($p: $pt),*) -> Var<'t> {
                    self.unary(UnaryOp::$variant { $($p),* })
                }
            )*
        }
    };
}

unary_ops! {
    /// `-x` (`torch.neg`).
    neg() => Neg, "NegBackward", |g, x, y| g.neg();
    /// `e^x` (`torch.exp`).
    exp() => Exp, "ExpBackward", |g, x, y| g.mul(y);
    /// Natural log (`torch.log`).
    log() => Log, "LogBackward", |g, x, y| g.div(x);
    /// `ln(1 + x)` (`torch.log1p`).
    log1p() => Log1p, "Log1pBackward", |g, x, y| g.div(&x.add_scalar(1.0));
    /// Square root (`torch.sqrt`).
    sqrt() => Sqrt, "SqrtBackward", |g, x, y| g.div(&y.mul_scalar(2.0));
    /// `1 / sqrt(x)` (`torch.rsqrt`).
    rsqrt() => Rsqrt, "RsqrtBackward", |g, x, y| g.mul(&y.pow_scalar(3.0)).mul_scalar(-0.5);
    /// `x²` (`torch.square`).
    square() => Square, "SquareBackward", |g, x, y| g.mul(x).mul_scalar(2.0);
    /// `1 / x` (`torch.reciprocal`).
    reciprocal() => Reciprocal, "ReciprocalBackward", |g, x, y| g.mul(&y.square()).neg();
    /// `|x|`; the gradient at 0 is 0 (`torch.abs`).
    abs() => Abs, "AbsBackward", |g, x, y| g.mul(&x.sign());
    /// Sine (`torch.sin`).
    sin() => Sin, "SinBackward", |g, x, y| g.mul(&x.cos());
    /// Cosine (`torch.cos`).
    cos() => Cos, "CosBackward", |g, x, y| g.mul(&x.sin()).neg();
    /// Hyperbolic tangent (`torch.tanh`).
    tanh() => Tanh, "TanhBackward", |g, x, y| g.zip_f64(y, |g, y| g * (1.0 - y * y));
    /// Logistic sigmoid (`torch.sigmoid`).
    sigmoid() => Sigmoid, "SigmoidBackward", |g, x, y| g.zip_f64(y, |g, y| g * y * (1.0 - y));
    /// `max(x, 0)`; the gradient at 0 is 0 (`torch.relu`).
    relu() => Relu, "ReluBackward", |g, x, y| y.threshold_backward(g, 0.0);
    /// `x·sigmoid(x)` (`F.silu`).
    silu() => Silu, "SiluBackward", |g, x, y| {
        let s = x.sigmoid();
        g.mul(&s.mul(&x.mul(&s.neg().add_scalar(1.0)).add_scalar(1.0)))
    };
    /// `log(sigmoid(x))`, stable (`F.logsigmoid`).
    log_sigmoid() => LogSigmoid, "LogSigmoidBackward", |g, x, y| g.mul(&x.neg().sigmoid());
    // ANCHOR: mish_grad
    /// `x·tanh(softplus(x))` (`F.mish`).
    mish() => Mish, "MishBackward", |g, x, y| {
        // tanh(sp) + x·σ(x)·(1 − tanh²(sp)), sp = ln(1 + eˣ), as PyTorch's mish_backward
        g.mul(&x.map_f64(|x| {
            let t = x.exp().ln_1p().tanh();
            t + x * (1.0 - t * t) / (1.0 + (-x).exp())
        }))
    };
    // ANCHOR_END: mish_grad
    /// `x` where positive, `negative_slope·x` elsewhere (`F.leaky_relu`, default slope 0.01).
    leaky_relu(negative_slope: f64) => LeakyRelu, "LeakyReluBackward",
        |g, x, y| g.zip_f64(x, |g, x| if x > 0.0 { g } else { g * negative_slope });
    /// `x` where positive, `alpha·(e^x − 1)` elsewhere (`F.elu`, default alpha 1).
    elu(alpha: f64) => Elu, "EluBackward",
        |g, x, y| g.zip_f64(x, |g, x| if x > 0.0 { g } else { g * alpha * x.exp() });
    /// GELU, exact or tanh-approximated (`F.gelu(x, approximate=...)`).
    gelu(approximate: GeluApprox) => Gelu, "GeluBackward",
        |g, x, y| g.mul(&x.gelu_grad(approximate));
    /// `log(1 + e^(βx))/β`, linear above `threshold` (`F.softplus`, defaults β=1, threshold=20).
    softplus(beta: f64, threshold: f64) => Softplus, "SoftplusBackward", |g, x, y| {
        g.mul(&x.map_f64(|x| {
            if x * beta > threshold {
                1.0
            } else {
                1.0 / (1.0 + (-x * beta).exp())
            }
        }))
    };
    /// Clamps into `[min, max]`; the gradient passes where `min <= x <= max` (`torch.clamp`).
    clamp(min: Option<f64>, max: Option<f64>) => Clamp, "ClampBackward", |g, x, y| {
        g.zip_f64(x, |g, x| {
            let inside = min.is_none_or(|l| x >= l) && max.is_none_or(|h| x <= h);
            if inside {
                g
            } else {
                0.0
            }
        })
    };
    /// `x + s` (`tensor + s`).
    add_scalar(s: f64) => AddScalar, "AddBackward", |g, x, y| g.clone();
    /// `x * s` (`tensor * s`).
    mul_scalar(s: f64) => MulScalar, "MulBackward", |g, x, y| g.mul_scalar(s);
    /// `x ^ e` for a scalar exponent (`torch.pow(x, e)`).
    pow_scalar(exponent: f64) => PowScalar, "PowBackward", |g, x, y| {
        g.mul(&if exponent == 0.0 {
            x.zeros_like()
        } else {
            x.pow_scalar(exponent - 1.0).mul_scalar(exponent)
        })
    };
}

/// Defines [`BinaryOp`] and its `Var` methods (each with a `try_` twin) from a table of
/// `method, try_method => Variant, "NameBackward", |g, a, b, y| (ga, gb);` entries. `a` and `b`
/// are the inputs, `y` the output and `g = d loss / d y`, all `&Tensor`s; `(ga, gb)` are the
/// gradients at the broadcast shape, which the tape sums back to each input's shape.
macro_rules! binary_ops {
    ($(
        $(#[$doc:meta])*
        $method:ident, $try_method:ident => $variant:ident, $name:literal,
            |$g:ident, $a:ident, $b:ident, $y:ident| $grad:expr;
    )*) => {
        /// An elementwise op of two broadcast inputs.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum BinaryOp {
            $($variant,)*
        }

        impl BinaryOp {
            /// The PyTorch-style name of the op's backward (`AddBackward`, ...).
            pub(crate) fn name(&self) -> &'static str {
                match self {
                    $(BinaryOp::$variant => $name,)*
                }
            }

            /// The output: the tensor kernel of the same name.
            fn forward(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
                match self {
                    $(BinaryOp::$variant => a.$try_method(b),)*
                }
            }

            /// The gradients of both inputs at the output's (broadcast) shape.
            #[allow(unused_variables)]
            pub(crate) fn backward(
                &self,
                g: &Tensor,
                a: &Tensor,
                b: &Tensor,
                y: &Tensor,
            ) -> (Tensor, Tensor) {
                match self {
                    $(BinaryOp::$variant => {
                        let ($g, $a, $b, $y) = (g, a, b, y);
                        $grad
                    })*
                }
            }
        }

        impl<'t> Var<'t> {
            $(
                $(#[$doc])*
                ///
                /// # Panics
                /// If the shapes do not broadcast (the message names the op and both shapes);
                #[doc = concat!("[`Var::", stringify!($try_method), "`] returns the error instead.")]
                #[track_caller]
                pub fn $method(self, other: Var<'t>) -> Var<'t> {
                    crate::or_panic(self.$try_method(other))
                }

                #[doc = concat!("Fallible [`Var::", stringify!($method), "`].")]
                ///
                /// # Errors
                /// If the shapes do not broadcast or an operand is not float.
                pub fn $try_method(self, other: Var<'t>) -> Result<Var<'t>> {
                    self.binary(other, BinaryOp::$variant)
                }
            )*
        }
    };
}

binary_ops! {
    /// `a + b` with broadcasting (`torch.add`).
    add, try_add => Add, "AddBackward", |g, a, b, y| (g.clone(), g.clone());
    /// `a - b` with broadcasting (`torch.sub`).
    sub, try_sub => Sub, "SubBackward", |g, a, b, y| (g.clone(), g.neg());
    /// `a * b` with broadcasting (`torch.mul`).
    mul, try_mul => Mul, "MulBackward", |g, a, b, y| (g.mul(b), g.mul(a));
    /// `a / b` with broadcasting (`torch.div`).
    div, try_div => Div, "DivBackward", |g, a, b, y| {
        let ga = g.div(b);
        let gb = ga.mul(y).neg();
        (ga, gb)
    };
    /// `a ^ b` with broadcasting (`torch.pow`).
    pow, try_pow => Pow, "PowBackward", |g, a, b, y| pow_grads(g, a, b, y);
    /// Elementwise maximum; ties split the gradient evenly (`torch.maximum`).
    maximum, try_maximum => Maximum, "MaximumBackward", |g, a, b, y| {
        extreme_grads(g, &a.gt(b), &a.eq(b))
    };
    /// Elementwise minimum; ties split the gradient evenly (`torch.minimum`).
    minimum, try_minimum => Minimum, "MinimumBackward", |g, a, b, y| {
        extreme_grads(g, &a.lt(b), &a.eq(b))
    };
}

/// Gradients of `y = x^e`: `e·x^(e-1)` and `x^e·ln x`, the latter taken as 0 where `x == 0`
/// and `e >= 0` (as PyTorch).
fn pow_grads(g: &Tensor, x: &Tensor, e: &Tensor, y: &Tensor) -> (Tensor, Tensor) {
    let ga = g.mul(&e.mul(&x.pow(&e.add_scalar(-1.0))));
    let zero_base = x
        .eq(&Tensor::scalar_of(0.0, x.dtype()))
        .logical_and(&e.ge(&Tensor::scalar_of(0.0, e.dtype())));
    let gb = g.mul(
        &y.mul(&x.log())
            .masked_fill(&zero_base.expand(y.shape()), 0.0),
    );
    (ga, gb)
}

/// Gradients of an elementwise maximum or minimum: all of `g` to the input that won, half to
/// each on a tie.
fn extreme_grads(g: &Tensor, a_wins: &Tensor, tie: &Tensor) -> (Tensor, Tensor) {
    let share = a_wins
        .to_dtype(g.dtype())
        .add(&tie.to_dtype(g.dtype()).mul_scalar(0.5));
    let ga = g.mul(&share);
    let gb = g.sub(&ga);
    (ga, gb)
}

impl<'t> Var<'t> {
    /// Records `op(self)`.
    fn unary(self, op: UnaryOp) -> Var<'t> {
        let v = op.forward(&self.tape.nodes.borrow()[self.id].value);
        Var::record(self.tape, v, Op::Unary(self.id, op), &[self.id])
    }

    /// Records `op(self, other)`.
    fn binary(self, other: Var<'t>, op: BinaryOp) -> Result<Var<'t>> {
        let v = {
            let nodes = self.tape.nodes.borrow();
            op.forward(&nodes[self.id].value, &nodes[other.id].value)?
        };
        Ok(Var::record(
            self.tape,
            v,
            Op::Binary(self.id, other.id, op),
            &[self.id, other.id],
        ))
    }

    /// `a + alpha * b` (`torch.add(a, b, alpha=alpha)`).
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn add_scaled(self, other: Var<'t>, alpha: f64) -> Var<'t> {
        if alpha == 1.0 {
            self.add(other)
        } else {
            self.add(other.mul_scalar(alpha))
        }
    }
}

#[cfg(test)]
mod tests {
    use tuna_tensor::Tensor;

    use crate::gradcheck::gradcheck;
    use crate::Tape;

    // ANCHOR: mish_gradcheck
    #[test]
    fn mish_gradient_matches_finite_differences() {
        // both tails (e^x underflowing, softplus saturating), the kink-free middle and 0
        let x = Tensor::from_vec(
            vec![-30.0f64, -4.0, -1.3, -0.2, 0.0, 0.7, 2.5, 15.0, 25.0],
            &[9],
        );
        gradcheck(|_, v| v[0].mish(), std::slice::from_ref(&x)).unwrap();
        // and through a transposed (strided) input
        gradcheck(|_, v| v[0].t().mish(), &[x.reshape(&[3, 3])]).unwrap();
    }
    // ANCHOR_END: mish_gradcheck

    #[test]
    fn table_ops_record_their_backward_name() {
        let tape = Tape::new();
        let x = tape.var(Tensor::from_vec(vec![0.5f64, -1.0], &[2]));
        let debug = |v: crate::Var<'_>| format!("{v:?}");
        assert!(debug(x.mish()).contains("op=MishBackward"));
        assert!(debug(x.add_scalar(1.0)).contains("op=AddBackward"));
        assert!(debug(x.mul(x)).contains("op=MulBackward"));
        assert!(debug(x.clamp(None, Some(0.0))).contains("op=ClampBackward"));
    }

    #[test]
    fn binary_try_ops_return_the_shape_error() {
        let tape = Tape::new();
        let a = tape.var(Tensor::zeros(&[2, 3], tuna_tensor::DType::F32));
        let b = tape.constant(Tensor::zeros(&[4], tuna_tensor::DType::F32));
        let before = tape.len();
        let e = a.try_sub(b).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sub: shapes [2, 3] and [4] cannot be broadcast together"
        );
        assert_eq!(tape.len(), before, "a failed op records nothing");
        assert!(a.try_mul(a).is_ok());
    }
}
