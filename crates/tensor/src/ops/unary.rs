//! Elementwise functions of one tensor (PyTorch `torch.exp`, `torch.nn.functional.gelu`, ...),
//! and the derivative kernels their backward passes use.

use crate::dtype::FloatElement;
use crate::error::or_panic;
use crate::strided::walk;
use crate::tensor::Tensor;
use crate::with_float;
#[allow(unused_imports)]
use num_traits::{Float, FloatConst, One, Zero};

impl Tensor {
    /// Applies `f` to every element of a float tensor of type `T`, giving a contiguous result.
    /// Large contiguous inputs are split over this thread's budget.
    pub(crate) fn map_float<T: FloatElement>(&self, f: impl Fn(T) -> T + Sync) -> Tensor {
        let data = self.typed::<T>("map");
        let out: Vec<T> = match self.layout().contiguous_range() {
            Some(r) => crate::threading::map_slice(&data[r], f),
            None => {
                let mut out = crate::pool::take(self.numel());
                walk(
                    self.shape(),
                    [self.strides()],
                    [self.layout().offset()],
                    |[o]| out.push(f(data[o])),
                );
                out
            }
        };
        Tensor::from_vec(out, self.shape())
    }
}

macro_rules! unary_ops {
    ($($(#[$doc:meta])* $name:ident => |$x:ident| $e:expr;)*) => {
        impl Tensor {
            $(
                $(#[$doc])*
                ///
                /// # Panics
                /// If the tensor is not f32 or f64.
                #[track_caller]
                pub fn $name(&self) -> Tensor {
                    or_panic(with_float!(self.dtype(), stringify!($name), T => {
                        #[allow(clippy::redundant_closure_call)]
                        self.map_float::<T>(|$x: T| $e)
                    }))
                }
            )*
        }
    };
}

unary_ops! {
    /// `-x` (`torch.neg`).
    neg => |x| -x;
    /// `e^x` (`torch.exp`).
    exp => |x| x.exp();
    /// Natural logarithm (`torch.log`).
    log => |x| x.ln();
    /// `ln(1 + x)`, accurate near 0 (`torch.log1p`).
    log1p => |x| x.ln_1p();
    /// `e^x - 1`, accurate near 0 (`torch.expm1`).
    expm1 => |x| x.exp_m1();
    /// Square root (`torch.sqrt`).
    sqrt => |x| x.sqrt();
    /// `1 / sqrt(x)` (`torch.rsqrt`).
    rsqrt => |x| x.sqrt().recip();
    /// `x * x` (`torch.square`).
    square => |x| x * x;
    /// `1 / x` (`torch.reciprocal`).
    reciprocal => |x| x.recip();
    /// Absolute value (`torch.abs`).
    abs => |x| x.abs();
    /// -1, 0 or 1 by the sign of `x`; NaN stays NaN (`torch.sign`).
    sign => |x| if x > T::zero() { T::one() } else if x < T::zero() { -T::one() } else { x };
    /// Sine (`torch.sin`).
    sin => |x| x.sin();
    /// Cosine (`torch.cos`).
    cos => |x| x.cos();
    /// Hyperbolic tangent (`torch.tanh`).
    tanh => |x| x.tanh();
    /// Logistic sigmoid `1 / (1 + e^-x)` (`torch.sigmoid`).
    sigmoid => |x| sigmoid(x);
    /// `max(x, 0)`; NaN propagates (`torch.relu`).
    relu => |x| if x <= T::zero() { T::zero() } else { x };
    /// `x * sigmoid(x)` (`F.silu`).
    silu => |x| x * sigmoid(x);
    /// `log(sigmoid(x))`, computed stably as `min(x, 0) - log1p(e^-|x|)` (`F.logsigmoid`).
    log_sigmoid => |x| x.min(T::zero()) - (-x.abs()).exp().ln_1p();
    // ANCHOR: mish_kernel
    /// `x·tanh(softplus(x)) = x·tanh(ln(1 + e^x))` (`F.mish`).
    mish => |x| x * x.exp().ln_1p().tanh();
    // ANCHOR_END: mish_kernel
    /// Error function (`torch.erf`).
    erf => |x| FloatElement::erf(x);
    /// Floor (`torch.floor`).
    floor => |x| x.floor();
    /// Ceiling (`torch.ceil`).
    ceil => |x| x.ceil();
    /// Round half to even (`torch.round`).
    round => |x| round_half_even(x);
}

pub(crate) fn sigmoid<T: FloatElement>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

fn round_half_even<T: FloatElement>(x: T) -> T {
    let r = x.round();
    if (x - x.trunc()).abs() == T::of(0.5) {
        T::of(2.0) * (x / T::of(2.0)).round()
    } else {
        r
    }
}

/// The GELU variant (`approximate` argument of `F.gelu`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GeluApprox {
    /// `x * Φ(x)` with the exact normal CDF (`approximate="none"`).
    #[default]
    None,
    /// `0.5x(1 + tanh(sqrt(2/π)(x + 0.044715x³)))` (`approximate="tanh"`).
    Tanh,
}

pub(crate) fn gelu_scalar<T: FloatElement>(x: T, approx: GeluApprox) -> T {
    let half = T::of(0.5);
    match approx {
        GeluApprox::None => half * x * (T::one() + FloatElement::erf(x * T::FRAC_1_SQRT_2())),
        GeluApprox::Tanh => {
            let k = T::of((2.0 / std::f64::consts::PI).sqrt());
            half * x * (T::one() + (k * (x + T::of(0.044715) * x * x * x)).tanh())
        }
    }
}

/// d gelu(x) / dx.
pub(crate) fn gelu_grad_scalar<T: FloatElement>(x: T, approx: GeluApprox) -> T {
    let half = T::of(0.5);
    match approx {
        GeluApprox::None => {
            let cdf = half * (T::one() + FloatElement::erf(x * T::FRAC_1_SQRT_2()));
            let pdf = (-half * x * x).exp() * T::of(1.0 / (2.0 * std::f64::consts::PI).sqrt());
            cdf + x * pdf
        }
        GeluApprox::Tanh => {
            let k = T::of((2.0 / std::f64::consts::PI).sqrt());
            let c = T::of(0.044715);
            let inner = k * (x + c * x * x * x);
            let t = inner.tanh();
            let dinner = k * (T::one() + T::of(3.0) * c * x * x);
            half * (T::one() + t) + half * x * (T::one() - t * t) * dinner
        }
    }
}

impl Tensor {
    /// `x` where positive, `negative_slope * x` elsewhere (`F.leaky_relu`).
    ///
    /// # Panics
    /// If the tensor is not f32 or f64.
    #[track_caller]
    pub fn leaky_relu(&self, negative_slope: f64) -> Tensor {
        or_panic(with_float!(self.dtype(), "leaky_relu", T => {
            let s = T::of(negative_slope);
            self.map_float::<T>(|x| if x > T::zero() { x } else { x * s })
        }))
    }

    /// `x` where positive, `alpha * (e^x - 1)` elsewhere (`F.elu`).
    ///
    /// # Panics
    /// If the tensor is not f32 or f64.
    #[track_caller]
    pub fn elu(&self, alpha: f64) -> Tensor {
        or_panic(with_float!(self.dtype(), "elu", T => {
            let a = T::of(alpha);
            self.map_float::<T>(|x| if x > T::zero() { x } else { a * x.exp_m1() })
        }))
    }

    /// Gaussian error linear unit, exact or tanh-approximated (`F.gelu`).
    ///
    /// # Panics
    /// If the tensor is not f32 or f64.
    #[track_caller]
    pub fn gelu(&self, approximate: GeluApprox) -> Tensor {
        or_panic(with_float!(self.dtype(), "gelu", T => {
            self.map_float::<T>(|x| gelu_scalar(x, approximate))
        }))
    }

    /// `log(1 + e^(beta*x)) / beta`, or `x` where `beta*x > threshold` (`F.softplus`,
    /// defaults `beta=1, threshold=20`).
    ///
    /// # Panics
    /// If the tensor is not f32 or f64.
    #[track_caller]
    pub fn softplus(&self, beta: f64, threshold: f64) -> Tensor {
        or_panic(with_float!(self.dtype(), "softplus", T => {
            let (b, th) = (T::of(beta), T::of(threshold));
            self.map_float::<T>(|x| if x * b > th { x } else { (x * b).exp().ln_1p() / b })
        }))
    }

    /// Clamps into `[min, max]`; either bound may be absent (`torch.clamp`). NaN stays NaN.
    ///
    /// # Panics
    /// If the tensor is not f32 or f64.
    #[track_caller]
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Tensor {
        or_panic(with_float!(self.dtype(), "clamp", T => {
            let lo = min.map(T::of);
            let hi = max.map(T::of);
            self.map_float::<T>(|x| {
                let mut y = x;
                if let Some(l) = lo { if y < l { y = l; } }
                if let Some(h) = hi { if y > h { y = h; } }
                y
            })
        }))
    }

    /// `x^exponent` for a scalar exponent (`torch.pow(x, exponent)`).
    ///
    /// # Panics
    /// If the tensor is not f32 or f64.
    #[track_caller]
    pub fn pow_scalar(&self, exponent: f64) -> Tensor {
        or_panic(with_float!(self.dtype(), "pow", T => {
            if exponent == 2.0 {
                self.map_float::<T>(|x| x * x)
            } else if exponent == 1.0 {
                self.map_float::<T>(|x| x)
            } else if exponent == 0.5 {
                self.map_float::<T>(|x| x.sqrt())
            } else if exponent.fract() == 0.0 && exponent.abs() < 64.0 {
                let e = exponent as i32;
                self.map_float::<T>(|x| x.powi(e))
            } else {
                let e = T::of(exponent);
                self.map_float::<T>(|x| x.powf(e))
            }
        }))
    }

    /// `x + s` for a scalar (`tensor + s`).
    ///
    /// # Panics
    /// If the tensor is not f32 or f64.
    #[track_caller]
    pub fn add_scalar(&self, s: f64) -> Tensor {
        or_panic(with_float!(self.dtype(), "add", T => {
            let s = T::of(s);
            self.map_float::<T>(|x| x + s)
        }))
    }

    /// `x * s` for a scalar (`tensor * s`).
    ///
    /// # Panics
    /// If the tensor is not f32 or f64.
    #[track_caller]
    pub fn mul_scalar(&self, s: f64) -> Tensor {
        or_panic(with_float!(self.dtype(), "mul", T => {
            let s = T::of(s);
            self.map_float::<T>(|x| x * s)
        }))
    }

    /// `grad` where `self > threshold`, else 0 (PyTorch's `threshold_backward(grad, self,
    /// threshold)`): the backward of ReLU, computed from its input or its output.
    ///
    /// # Panics
    /// If the shapes do not broadcast or the tensors are not float.
    #[track_caller]
    pub fn threshold_backward(&self, grad: &Tensor, threshold: f64) -> Tensor {
        let grad = grad.to_dtype(self.dtype());
        or_panic(with_float!(self.dtype(), "threshold_backward", T => {
            let th = T::of(threshold);
            or_panic(crate::ops::binary::zip_map::<T, T>("threshold_backward", self, &grad, |x, g| if x > th { g } else { T::zero() }))
        }))
    }

    /// The derivative of [`Tensor::gelu`] at each element.
    ///
    /// # Panics
    /// If the tensor is not f32 or f64.
    #[track_caller]
    pub fn gelu_grad(&self, approximate: GeluApprox) -> Tensor {
        or_panic(with_float!(self.dtype(), "gelu_grad", T => {
            self.map_float::<T>(|x| gelu_grad_scalar(x, approximate))
        }))
    }

    /// Applies an arbitrary `f64` function elementwise (computed in f64, stored in this dtype).
    /// Convenient for one-off transforms; the named methods are faster. On a large tensor `f`
    /// runs on the calling thread's kernel threads, hence `Sync`.
    ///
    /// # Panics
    /// If the tensor is not f32 or f64.
    #[track_caller]
    pub fn map_f64(&self, f: impl Fn(f64) -> f64 + Sync) -> Tensor {
        or_panic(with_float!(self.dtype(), "map_f64", T => {
            self.map_float::<T>(|x| T::of(f(crate::Element::to_f64(x))))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gelu_grad_matches_finite_difference() {
        for approx in [GeluApprox::None, GeluApprox::Tanh] {
            for &x in &[-3.0f64, -0.7, 0.0, 0.4, 2.5] {
                let h = 1e-6;
                let fd = (gelu_scalar(x + h, approx) - gelu_scalar(x - h, approx)) / (2.0 * h);
                assert!(
                    (fd - gelu_grad_scalar(x, approx)).abs() < 1e-8,
                    "{approx:?} {x}"
                );
            }
        }
    }

    #[test]
    fn stable_at_extremes() {
        let t = Tensor::from_vec(vec![-1000.0f32, 1000.0], &[2]);
        assert_eq!(t.sigmoid().to_vec::<f32>(), vec![0.0, 1.0]);
        assert_eq!(t.softplus(1.0, 20.0).to_vec::<f32>(), vec![0.0, 1000.0]);
        assert_eq!(t.log_sigmoid().to_vec::<f32>(), vec![-1000.0, 0.0]);
    }
}
