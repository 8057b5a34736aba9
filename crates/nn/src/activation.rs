//! Activation functions as modules (`torch.nn.ReLU`, ...). Each is its own serializable spec:
//! the config is the whole module.

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;
use tuna_tensor::GeluApprox;

use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::module::{Module, ModuleVisitor};

fn default_slope() -> f64 {
    0.01
}
fn one() -> f64 {
    1.0
}
fn twenty() -> f64 {
    20.0
}

macro_rules! activation {
    ($(#[$doc:meta])* $name:ident, $tag:literal, { $($(#[$fdoc:meta])* $field:ident : $ty:ty = $default:expr),* }, |$s:ident, $x:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fdoc])* #[serde(default = $default)] pub $field: $ty,)*
        }

        impl Module for $name {
            fn forward<'t>(&self, $x: Var<'t>) -> Var<'t> {
                let $s = self;
                $body
            }
            fn visit(&self, _prefix: &str, _v: &mut dyn ModuleVisitor) {}
            fn name(&self) -> &'static str {
                $tag
            }
        }

        #[typetag::serde(name = $tag)]
        impl LayerConfig for $name {
            fn build(&self, _ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
                Ok(Box::new(self.clone()))
            }
            fn output_shape(&self, _index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
                Ok(input.to_vec())
            }
        }
    };
}

fn no() -> bool {
    false
}

activation!(
    /// `max(x, 0)` (`torch.nn.ReLU`; `inplace` is accepted and has no effect).
    Relu, "ReLU", { /// Accepted for compatibility (`inplace`, default false).
    inplace: bool = "no" }, |_s, x| x.relu());
activation!(
    /// `x` if positive else `negative_slope·x` (`torch.nn.LeakyReLU`, default slope 0.01).
    LeakyRelu, "LeakyReLU", { /// Slope for negative inputs (`negative_slope`, default 0.01).
    negative_slope: f64 = "default_slope", /// Accepted for compatibility.
    inplace: bool = "no" }, |s, x| x.leaky_relu(s.negative_slope));
activation!(
    /// `x` if positive else `alpha·(eˣ−1)` (`torch.nn.ELU`, default alpha 1).
    Elu, "ELU", { /// Saturation value for negative inputs (`alpha`, default 1.0).
    alpha: f64 = "one", /// Accepted for compatibility.
    inplace: bool = "no" }, |s, x| x.elu(s.alpha));
activation!(
    /// Gaussian error linear unit (`torch.nn.GELU(approximate="none"|"tanh")`).
    Gelu, "GELU", { /// `"none"` (exact, default) or `"tanh"`.
    approximate: GeluApprox = "GeluApprox::default" }, |s, x| x.gelu(s.approximate));
activation!(
    /// `x·sigmoid(x)` (`torch.nn.SiLU`).
    Silu, "SiLU", { /// Accepted for compatibility.
    inplace: bool = "no" }, |_s, x| x.silu());
activation!(
    /// Hyperbolic tangent (`torch.nn.Tanh`).
    Tanh, "Tanh", {}, |_s, x| x.tanh());
activation!(
    /// Logistic sigmoid (`torch.nn.Sigmoid`).
    Sigmoid, "Sigmoid", {}, |_s, x| x.sigmoid());
activation!(
    /// `log(1+e^(βx))/β`, linear above `threshold` (`torch.nn.Softplus`, β=1, threshold=20).
    Softplus, "Softplus", { /// `beta`, default 1.0.
    beta: f64 = "one", /// `threshold`, default 20.0.
    threshold: f64 = "twenty" }, |s, x| x.softplus(s.beta, s.threshold));
activation!(
    /// Softmax along `dim` (`torch.nn.Softmax(dim)`; default -1 where PyTorch warns and guesses).
    Softmax, "Softmax", { /// The dimension (`dim`, default -1).
    dim: isize = "minus_one" }, |s, x| x.softmax(s.dim));
activation!(
    /// Log-softmax along `dim` (`torch.nn.LogSoftmax(dim)`, default -1).
    LogSoftmax, "LogSoftmax", { /// The dimension (`dim`, default -1).
    dim: isize = "minus_one" }, |s, x| x.log_softmax(s.dim));
activation!(
    /// The identity (`torch.nn.Identity`).
    Identity, "Identity", {}, |_s, x| x);

fn minus_one() -> isize {
    -1
}
