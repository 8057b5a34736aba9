//! `MaxPool2d`: the maximum over sliding windows (`torch.nn.MaxPool2d`).

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;
use tuna_tensor::MaxPool2dOptions;

use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::module::{Module, ModuleVisitor};
use crate::util::{all_positive, de_opt_pair, de_pair, pair_0, pair_1, pool_out, shape_err};

/// 2-D max pooling over `(N, C, H, W)` or `(C, H, W)` (`torch.nn.MaxPool2d(kernel_size,
/// stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False)`). The config
/// is the whole module. The gradient goes to each window's (first) maximum.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxPool2d {
    /// Window size (`kernel_size`).
    #[serde(deserialize_with = "de_pair")]
    pub kernel_size: [usize; 2],
    /// Step between windows (`stride`, default `kernel_size`).
    #[serde(default, deserialize_with = "de_opt_pair")]
    pub stride: Option<[usize; 2]>,
    /// Implicit `-inf` padding on both sides, at most half the kernel (`padding`, default 0).
    #[serde(default = "pair_0", deserialize_with = "de_pair")]
    pub padding: [usize; 2],
    /// Spacing between window taps (`dilation`, default 1).
    #[serde(default = "pair_1", deserialize_with = "de_pair")]
    pub dilation: [usize; 2],
    /// Must be false in a model (`return_indices`); use [`Var::max_pool2d_with_indices`].
    #[serde(default)]
    pub return_indices: bool,
    /// Round output sizes up (`ceil_mode`, default false).
    #[serde(default)]
    pub ceil_mode: bool,
}

impl MaxPool2d {
    /// Pooling with window `kernel_size` and PyTorch's other defaults.
    pub fn new(kernel_size: usize) -> Self {
        MaxPool2d {
            kernel_size: [kernel_size; 2],
            stride: None,
            padding: [0, 0],
            dilation: [1, 1],
            return_indices: false,
            ceil_mode: false,
        }
    }

    fn options(&self) -> MaxPool2dOptions {
        MaxPool2dOptions {
            kernel_size: self.kernel_size,
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
            ceil_mode: self.ceil_mode,
        }
    }
}

impl Module for MaxPool2d {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        input.max_pool2d(&self.options())
    }
    fn visit(&self, _prefix: &str, _v: &mut dyn ModuleVisitor) {}
    fn name(&self) -> &'static str {
        "MaxPool2d"
    }
}

/// Output shape of a 2-D pooling layer.
#[allow(clippy::too_many_arguments)]
pub(crate) fn pool_shape(
    index: &str,
    layer: &str,
    input: &[usize],
    k: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil: bool,
) -> Result<Vec<usize>, NnError> {
    let r = input.len();
    let err = || {
        shape_err(
            index,
            layer,
            format!("[N, C, H, W] or [C, H, W] with H, W at least the (dilated) window {k:?} after padding {padding:?}"),
            input,
        )
    };
    if !(r == 3 || r == 4) {
        return Err(err());
    }
    let mut out = input.to_vec();
    for i in 0..2 {
        out[r - 2 + i] = pool_out(
            input[r - 2 + i],
            padding[i],
            dilation[i],
            k[i],
            stride[i],
            ceil,
        )
        .ok_or_else(err)?;
    }
    Ok(out)
}

/// Checks kernel/stride/padding of a pooling layer.
pub(crate) fn validate_pool(
    layer: &str,
    k: [usize; 2],
    stride: Option<[usize; 2]>,
    padding: [usize; 2],
) -> Result<(), NnError> {
    all_positive(layer, "kernel_size", &k)?;
    if let Some(s) = stride {
        all_positive(layer, "stride", &s)?;
    }
    if padding[0] > k[0] / 2 || padding[1] > k[1] / 2 {
        return Err(NnError::config(
            layer,
            "padding",
            format!("must be at most half the kernel size, got padding {padding:?} for kernel_size {k:?}"),
        ));
    }
    Ok(())
}

#[typetag::serde(name = "MaxPool2d")]
impl LayerConfig for MaxPool2d {
    fn validate(&self) -> Result<(), NnError> {
        validate_pool("MaxPool2d", self.kernel_size, self.stride, self.padding)?;
        all_positive("MaxPool2d", "dilation", &self.dilation)?;
        if self.return_indices {
            return Err(NnError::config(
                "MaxPool2d",
                "return_indices",
                "must be false in a model (a layer returns one tensor); call Var::max_pool2d_with_indices for the indices",
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
            "MaxPool2d",
            input,
            self.kernel_size,
            self.stride.unwrap_or(self.kernel_size),
            self.padding,
            self.dilation,
            self.ceil_mode,
        )
    }
}
