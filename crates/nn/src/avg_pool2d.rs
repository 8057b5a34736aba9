//! `AvgPool2d`: the mean over sliding windows (`torch.nn.AvgPool2d`).

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;
use tuna_tensor::AvgPool2dOptions;

use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::max_pool2d::{pool_shape, validate_pool};
use crate::module::{Module, ModuleVisitor};
use crate::util::{de_opt_pair, de_pair, pair_0, yes};

/// 2-D average pooling over `(N, C, H, W)` or `(C, H, W)` (`torch.nn.AvgPool2d(kernel_size,
/// stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None)`).
/// The config is the whole module.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvgPool2d {
    /// Window size (`kernel_size`).
    #[serde(deserialize_with = "de_pair")]
    pub kernel_size: [usize; 2],
    /// Step between windows (`stride`, default `kernel_size`).
    #[serde(default, deserialize_with = "de_opt_pair")]
    pub stride: Option<[usize; 2]>,
    /// Implicit zero padding on both sides, at most half the kernel (`padding`, default 0).
    #[serde(default = "pair_0", deserialize_with = "de_pair")]
    pub padding: [usize; 2],
    /// Round output sizes up (`ceil_mode`, default false).
    #[serde(default)]
    pub ceil_mode: bool,
    /// Count padded zeros in the divisor (`count_include_pad`, default true).
    #[serde(default = "yes")]
    pub count_include_pad: bool,
    /// Divide by this instead of the window size (`divisor_override`, default None).
    #[serde(default)]
    pub divisor_override: Option<usize>,
}

impl AvgPool2d {
    /// Pooling with window `kernel_size` and PyTorch's other defaults.
    pub fn new(kernel_size: usize) -> Self {
        AvgPool2d {
            kernel_size: [kernel_size; 2],
            stride: None,
            padding: [0, 0],
            ceil_mode: false,
            count_include_pad: true,
            divisor_override: None,
        }
    }

    fn options(&self) -> AvgPool2dOptions {
        AvgPool2dOptions {
            kernel_size: self.kernel_size,
            stride: self.stride,
            padding: self.padding,
            ceil_mode: self.ceil_mode,
            count_include_pad: self.count_include_pad,
            divisor_override: self.divisor_override,
        }
    }
}

impl Module for AvgPool2d {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        input.avg_pool2d(&self.options())
    }
    fn visit(&self, _prefix: &str, _v: &mut dyn ModuleVisitor) {}
    fn name(&self) -> &'static str {
        "AvgPool2d"
    }
}

#[typetag::serde(name = "AvgPool2d")]
impl LayerConfig for AvgPool2d {
    fn validate(&self) -> Result<(), NnError> {
        validate_pool("AvgPool2d", self.kernel_size, self.stride, self.padding)?;
        if self.divisor_override == Some(0) {
            return Err(NnError::config(
                "AvgPool2d",
                "divisor_override",
                "must be positive, got 0",
            ));
        }
        Ok(())
    }

    fn build(&self, _ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        self.validate()?;
        Ok(Box::new(self.clone()))
    }

    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        pool_shape(
            index,
            "AvgPool2d",
            input,
            self.kernel_size,
            self.stride.unwrap_or(self.kernel_size),
            self.padding,
            [1, 1],
            self.ceil_mode,
        )
    }
}
