//! `Conv1d`: 1-D convolution over `(N, C, L)` (`torch.nn.Conv1d`), with every padding mode.

use serde::{Deserialize, Serialize};
use tuna_autograd::{Param, Var};
use tuna_tensor::{Conv1dOptions, DType, Generator, Padding1d, Padding2d};

use crate::config::{BuildContext, LayerConfig};
use crate::conv2d::{padding_pairs, validate_conv};
use crate::error::NnError;
use crate::init;
use crate::module::{join_name, Module, ModuleItem, ModuleVisitor};
use crate::util::{de_single, one, shape_err, window_out, yes, PaddingMode};

/// A 1-D convolution (`torch.nn.Conv1d`).
///
/// Parameters `weight` `[out_channels, in_channels/groups, k]` and `bias` `[out_channels]`,
/// initialized like PyTorch: U(-1/√fan_in, 1/√fan_in) with `fan_in = in_channels/groups·k`.
#[derive(Debug)]
pub struct Conv1d {
    /// `[out_channels, in_channels/groups, k]`.
    pub weight: Param,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Param>,
    /// Stride, dilation, groups and (for `zeros`) the padding passed to the kernel.
    pub options: Conv1dOptions,
    /// How the border is filled.
    pub padding_mode: PaddingMode,
    pad: [usize; 2],
}

fn pairs_1d(padding: Padding1d, k: usize, dilation: usize) -> [usize; 2] {
    let p2 = match padding {
        Padding1d::Explicit(p) => Padding2d::Explicit([0, p]),
        Padding1d::Same => Padding2d::Same,
        Padding1d::Valid => Padding2d::Valid,
    };
    padding_pairs(p2, [1, k], [1, dilation])[1]
}

impl Conv1d {
    /// A layer with PyTorch's default initialization.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        options: Conv1dOptions,
        bias: bool,
        padding_mode: PaddingMode,
        dtype: DType,
        gen: &mut Generator,
    ) -> Self {
        let shape = [out_channels, in_channels / options.groups, kernel_size];
        let weight = Param::new(init::default_weight(&shape, dtype, gen));
        let fan_in = init::fans(&shape).0;
        let bias = bias.then(|| Param::new(init::default_bias(out_channels, fan_in, dtype, gen)));
        let pad = pairs_1d(options.padding, kernel_size, options.dilation);
        let mut options = options;
        if padding_mode != PaddingMode::Zeros {
            options.padding = Padding1d::Explicit(0);
        }
        Conv1d {
            weight,
            bias,
            options,
            padding_mode,
            pad,
        }
    }
}

impl Module for Conv1d {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        let tape = input.tape();
        let x = if self.padding_mode == PaddingMode::Zeros {
            input
        } else {
            input.pad(&self.pad, self.padding_mode.pad_mode())
        };
        x.conv1d(
            tape.param(&self.weight),
            self.bias.as_ref().map(|b| tape.param(b)),
            &self.options,
        )
    }

    fn visit(&self, prefix: &str, v: &mut dyn ModuleVisitor) {
        v.item(
            &join_name(prefix, "weight"),
            ModuleItem::Param(&self.weight),
        );
        if let Some(b) = &self.bias {
            v.item(&join_name(prefix, "bias"), ModuleItem::Param(b));
        }
    }

    fn name(&self) -> &'static str {
        "Conv1d"
    }
}

/// Config of [`Conv1d`] (`torch.nn.Conv1d(in_channels, out_channels, kernel_size, stride=1,
/// padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros')`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv1dConfig {
    /// Input channels (`in_channels`).
    pub in_channels: usize,
    /// Output channels (`out_channels`).
    pub out_channels: usize,
    /// Kernel size (`kernel_size`).
    #[serde(deserialize_with = "de_single")]
    pub kernel_size: usize,
    /// Stride (`stride`, default 1).
    #[serde(default = "one", deserialize_with = "de_single")]
    pub stride: usize,
    /// Padding: an int, `"same"` or `"valid"` (`padding`, default 0).
    #[serde(default)]
    pub padding: Padding1d,
    /// Spacing between kernel taps (`dilation`, default 1).
    #[serde(default = "one", deserialize_with = "de_single")]
    pub dilation: usize,
    /// Blocked connections from input to output channels (`groups`, default 1).
    #[serde(default = "one")]
    pub groups: usize,
    /// Whether to learn a bias (`bias`, default true).
    #[serde(default = "yes")]
    pub bias: bool,
    /// `zeros`, `reflect`, `replicate` or `circular` (`padding_mode`, default `zeros`).
    #[serde(default)]
    pub padding_mode: PaddingMode,
}

#[typetag::serde(name = "Conv1d")]
impl LayerConfig for Conv1dConfig {
    fn validate(&self) -> Result<(), NnError> {
        validate_conv(
            "Conv1d",
            self.in_channels,
            self.out_channels,
            self.groups,
            &[self.kernel_size],
            &[self.stride],
            &[self.dilation],
            self.padding == Padding1d::Same,
        )
    }

    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        self.validate()?;
        let options = Conv1dOptions {
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
            groups: self.groups,
        };
        Ok(Box::new(Conv1d::new(
            self.in_channels,
            self.out_channels,
            self.kernel_size,
            options,
            self.bias,
            self.padding_mode,
            ctx.dtype,
            &mut ctx.gen,
        )))
    }

    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        let c = self.in_channels;
        let r = input.len();
        let pads = pairs_1d(self.padding, self.kernel_size, self.dilation);
        let len = if r == 2 || r == 3 { input[r - 1] } else { 0 };
        let fits = match self.padding_mode {
            PaddingMode::Reflect => pads[0] < len && pads[1] < len,
            PaddingMode::Circular => pads[0] <= len && pads[1] <= len,
            _ => true,
        };
        let o = window_out(
            len,
            pads[0] + pads[1],
            self.dilation,
            self.kernel_size,
            self.stride,
        );
        match o {
            Some(o) if fits && (r == 2 || r == 3) && input[r - 2] == c => {
                let mut out = input.to_vec();
                out[r - 2] = self.out_channels;
                out[r - 1] = o;
                Ok(out)
            }
            _ => Err(shape_err(
                index,
                "Conv1d",
                format!(
                    "[N, {c}, L] or [{c}, L] with L at least the dilated kernel ({}) after padding {pads:?}",
                    self.dilation * (self.kernel_size - 1) + 1
                ),
                input,
            )),
        }
    }
}
