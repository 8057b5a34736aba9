//! `GroupNorm`: normalization over groups of channels (`torch.nn.GroupNorm`).

use serde::{Deserialize, Serialize};
use tuna_autograd::{functional, Param, Var};
use tuna_tensor::{DType, Tensor};

use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::module::{join_name, Module, ModuleItem, ModuleVisitor};
use crate::util::{check_eps, eps_default, positive, shape_err, yes};

/// Group normalization (`torch.nn.GroupNorm`): the `C` channels of an `(N, C, *)` input are
/// split into `num_groups` groups, each (sample, group) normalized with its own mean and
/// biased variance, then scaled and shifted per channel. Parameters `weight` (ones) and
/// `bias` (zeros) `[C]` when `affine`.
#[derive(Debug)]
pub struct GroupNorm {
    /// Number of groups.
    pub num_groups: usize,
    /// Number of channels `C`.
    pub num_channels: usize,
    /// Added to the variance.
    pub eps: f64,
    /// Per-channel scale, if affine.
    pub weight: Option<Param>,
    /// Per-channel shift, if affine.
    pub bias: Option<Param>,
}

impl Module for GroupNorm {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        let shape = input.shape();
        assert!(
            shape.len() >= 2 && shape[1] == self.num_channels,
            "GroupNorm: expected input [N, {}, *], got shape {shape:?}",
            self.num_channels
        );
        let tape = input.tape();
        functional::group_norm(
            input,
            self.num_groups,
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
        "GroupNorm"
    }
}

impl GroupNorm {
    /// A layer with PyTorch's initialization.
    pub fn new(
        num_groups: usize,
        num_channels: usize,
        eps: f64,
        affine: bool,
        dtype: DType,
    ) -> Self {
        GroupNorm {
            num_groups,
            num_channels,
            eps,
            weight: affine.then(|| Param::new(Tensor::ones(&[num_channels], dtype))),
            bias: affine.then(|| Param::new(Tensor::zeros(&[num_channels], dtype))),
        }
    }
}

/// Config of [`GroupNorm`] (`torch.nn.GroupNorm(num_groups, num_channels, eps=1e-05,
/// affine=True)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupNormConfig {
    /// Number of groups (`num_groups`); must divide `num_channels`.
    pub num_groups: usize,
    /// Number of channels (`num_channels`).
    pub num_channels: usize,
    /// Added to the variance (`eps`, default 1e-5).
    #[serde(default = "eps_default")]
    pub eps: f64,
    /// Learn per-channel `weight` and `bias` (`affine`, default true).
    #[serde(default = "yes")]
    pub affine: bool,
}

#[typetag::serde(name = "GroupNorm")]
impl LayerConfig for GroupNormConfig {
    fn validate(&self) -> Result<(), NnError> {
        positive("GroupNorm", "num_groups", self.num_groups)?;
        positive("GroupNorm", "num_channels", self.num_channels)?;
        if self.num_channels % self.num_groups != 0 {
            return Err(NnError::config(
                "GroupNorm",
                "num_groups",
                format!(
                    "num_channels ({}) must be divisible by num_groups ({})",
                    self.num_channels, self.num_groups
                ),
            ));
        }
        check_eps("GroupNorm", self.eps)
    }

    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        self.validate()?;
        Ok(Box::new(GroupNorm::new(
            self.num_groups,
            self.num_channels,
            self.eps,
            self.affine,
            ctx.dtype,
        )))
    }

    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        if input.len() >= 2 && input[1] == self.num_channels {
            Ok(input.to_vec())
        } else {
            Err(shape_err(
                index,
                "GroupNorm",
                format!("[N, {}, *]", self.num_channels),
                input,
            ))
        }
    }
}
