//! `LayerNorm`: normalization over the trailing dims (`torch.nn.LayerNorm`).

use serde::{Deserialize, Serialize};
use tuna_autograd::{functional, Param, Var};
use tuna_tensor::{DType, Tensor};

use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::module::{join_name, Module, ModuleItem, ModuleVisitor};
use crate::util::{all_positive, check_eps, de_list, eps_default, shape_err, yes};

/// Layer normalization over the last `normalized_shape.len()` dims (`torch.nn.LayerNorm`):
/// `y = (x − E[x]) / sqrt(Var[x] + eps) · weight + bias` with the biased variance.
/// Parameters `weight` (ones) and `bias` (zeros), shaped `normalized_shape`, when
/// `elementwise_affine` (and `bias`).
#[derive(Debug)]
pub struct LayerNorm {
    /// The trailing shape normalized over.
    pub normalized_shape: Vec<usize>,
    /// Added to the variance.
    pub eps: f64,
    /// Elementwise scale, if affine.
    pub weight: Option<Param>,
    /// Elementwise shift, if affine with bias.
    pub bias: Option<Param>,
}

impl LayerNorm {
    /// A layer with PyTorch's initialization.
    pub fn new(
        normalized_shape: Vec<usize>,
        eps: f64,
        elementwise_affine: bool,
        bias: bool,
        dtype: DType,
    ) -> Self {
        LayerNorm {
            weight: elementwise_affine.then(|| Param::new(Tensor::ones(&normalized_shape, dtype))),
            bias: (elementwise_affine && bias)
                .then(|| Param::new(Tensor::zeros(&normalized_shape, dtype))),
            normalized_shape,
            eps,
        }
    }
}

impl Module for LayerNorm {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        let tape = input.tape();
        functional::layer_norm(
            input,
            &self.normalized_shape,
            self.weight.as_ref().map(|p| tape.param(p)),
            self.bias.as_ref().map(|p| tape.param(p)),
            self.eps,
        )
    }

    fn visit(&self, prefix: &str, v: &mut dyn ModuleVisitor) {
        if let Some(p) = &self.weight {
            v.item(&join_name(prefix, "weight"), ModuleItem::Param(p));
        }
        if let Some(p) = &self.bias {
            v.item(&join_name(prefix, "bias"), ModuleItem::Param(p));
        }
    }

    fn name(&self) -> &'static str {
        "LayerNorm"
    }
}

/// Config of [`LayerNorm`] (`torch.nn.LayerNorm(normalized_shape, eps=1e-05,
/// elementwise_affine=True, bias=True)`); `normalized_shape` is an int or a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerNormConfig {
    /// Trailing dims to normalize (`normalized_shape`).
    #[serde(deserialize_with = "de_list")]
    pub normalized_shape: Vec<usize>,
    /// Added to the variance (`eps`, default 1e-5).
    #[serde(default = "eps_default")]
    pub eps: f64,
    /// Learn `weight` and `bias` (`elementwise_affine`, default true).
    #[serde(default = "yes")]
    pub elementwise_affine: bool,
    /// Learn `bias` when affine (`bias`, default true).
    #[serde(default = "yes")]
    pub bias: bool,
}

#[typetag::serde(name = "LayerNorm")]
impl LayerConfig for LayerNormConfig {
    fn validate(&self) -> Result<(), NnError> {
        if self.normalized_shape.is_empty() {
            return Err(NnError::config(
                "LayerNorm",
                "normalized_shape",
                "must not be empty",
            ));
        }
        all_positive("LayerNorm", "normalized_shape", &self.normalized_shape)?;
        check_eps("LayerNorm", self.eps)
    }

    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        self.validate()?;
        Ok(Box::new(LayerNorm::new(
            self.normalized_shape.clone(),
            self.eps,
            self.elementwise_affine,
            self.bias,
            ctx.dtype,
        )))
    }

    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        let k = self.normalized_shape.len();
        if input.len() >= k && input[input.len() - k..] == self.normalized_shape[..] {
            Ok(input.to_vec())
        } else {
            let dims: Vec<String> = self
                .normalized_shape
                .iter()
                .map(|d| d.to_string())
                .collect();
            Err(shape_err(
                index,
                "LayerNorm",
                format!("[*, {}]", dims.join(", ")),
                input,
            ))
        }
    }
}
