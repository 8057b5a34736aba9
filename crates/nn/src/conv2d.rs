//! `Conv2d`: 2-D convolution over `(N, C, H, W)` (`torch.nn.Conv2d`), with every padding mode.

use serde::{Deserialize, Serialize};
use tuna_autograd::{Param, Var};
use tuna_tensor::{Conv2dOptions, DType, Generator, Padding2d};

use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::init;
use crate::module::{join_name, Module, ModuleItem, ModuleVisitor};
use crate::util::{
    all_positive, de_pair, one, pair_1, positive, shape_err, window_out, yes, PaddingMode,
};

/// A 2-D convolution (`torch.nn.Conv2d`).
///
/// Parameters `weight` `[out_channels, in_channels/groups, kh, kw]` and `bias`
/// `[out_channels]`, initialized like PyTorch: U(-1/√fan_in, 1/√fan_in) with
/// `fan_in = in_channels/groups·kh·kw`. A `padding_mode` other than `zeros` pads the input
/// with [`Var::pad`] first and convolves without padding, as PyTorch does.
#[derive(Debug)]
pub struct Conv2d {
    /// `[out_channels, in_channels/groups, kh, kw]`.
    pub weight: Param,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Param>,
    /// Stride, dilation, groups and (for `zeros`) the padding passed to the kernel.
    pub options: Conv2dOptions,
    /// How the border is filled.
    pub padding_mode: PaddingMode,
    /// `F.pad` pairs `[left, right, top, bottom]` applied before the convolution when the
    /// mode is not `zeros`.
    pad: [usize; 4],
}

/// `(before, after)` padding per spatial dim for `padding` (PyTorch's
/// `_reversed_padding_repeated_twice`; `"same"` puts `total/2` before and the rest after).
pub(crate) fn padding_pairs(
    padding: Padding2d,
    kernel: [usize; 2],
    dilation: [usize; 2],
) -> [[usize; 2]; 2] {
    match padding {
        Padding2d::Explicit(p) => [[p[0], p[0]], [p[1], p[1]]],
        Padding2d::Valid => [[0, 0], [0, 0]],
        Padding2d::Same => std::array::from_fn(|i| {
            let total = dilation[i] * (kernel[i] - 1);
            [total / 2, total - total / 2]
        }),
    }
}

impl Conv2d {
    /// A layer with PyTorch's default initialization.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: [usize; 2],
        options: Conv2dOptions,
        bias: bool,
        padding_mode: PaddingMode,
        dtype: DType,
        gen: &mut Generator,
    ) -> Self {
        let shape = [
            out_channels,
            in_channels / options.groups,
            kernel_size[0],
            kernel_size[1],
        ];
        let weight = Param::new(init::default_weight(&shape, dtype, gen));
        let fan_in = init::fans(&shape).0;
        let bias = bias.then(|| Param::new(init::default_bias(out_channels, fan_in, dtype, gen)));
        let [[t, b], [l, r]] = padding_pairs(options.padding, kernel_size, options.dilation);
        let mut options = options;
        if padding_mode != PaddingMode::Zeros {
            options.padding = Padding2d::Explicit([0, 0]);
        }
        Conv2d {
            weight,
            bias,
            options,
            padding_mode,
            pad: [l, r, t, b],
        }
    }
}

impl Module for Conv2d {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        let tape = input.tape();
        let x = if self.padding_mode == PaddingMode::Zeros {
            input
        } else {
            input.pad(&self.pad, self.padding_mode.pad_mode())
        };
        x.conv2d(
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
        "Conv2d"
    }
}

/// Config of [`Conv2d`] (`torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride=1,
/// padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros')`). Spatial arguments
/// take an int or a pair; `padding` also takes `"same"` or `"valid"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv2dConfig {
    /// Input channels (`in_channels`).
    pub in_channels: usize,
    /// Output channels (`out_channels`).
    pub out_channels: usize,
    /// Kernel size `[kh, kw]` (`kernel_size`).
    #[serde(deserialize_with = "de_pair")]
    pub kernel_size: [usize; 2],
    /// Stride (`stride`, default 1).
    #[serde(default = "pair_1", deserialize_with = "de_pair")]
    pub stride: [usize; 2],
    /// Padding: `[ph, pw]`, `"same"` or `"valid"` (`padding`, default 0).
    #[serde(default)]
    pub padding: Padding2d,
    /// Spacing between kernel taps (`dilation`, default 1).
    #[serde(default = "pair_1", deserialize_with = "de_pair")]
    pub dilation: [usize; 2],
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

impl Conv2dConfig {
    /// A spec with PyTorch's defaults for everything but the three required arguments.
    pub fn new(in_channels: usize, out_channels: usize, kernel_size: usize) -> Self {
        Conv2dConfig {
            in_channels,
            out_channels,
            kernel_size: [kernel_size; 2],
            stride: [1, 1],
            padding: Padding2d::default(),
            dilation: [1, 1],
            groups: 1,
            bias: true,
            padding_mode: PaddingMode::Zeros,
        }
    }

    fn options(&self) -> Conv2dOptions {
        Conv2dOptions {
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
            groups: self.groups,
        }
    }
}

/// Validation shared by the convolution specs.
#[allow(clippy::too_many_arguments)]
pub(crate) fn validate_conv(
    layer: &str,
    in_channels: usize,
    out_channels: usize,
    groups: usize,
    kernel: &[usize],
    stride: &[usize],
    dilation: &[usize],
    same: bool,
) -> Result<(), NnError> {
    positive(layer, "in_channels", in_channels)?;
    positive(layer, "out_channels", out_channels)?;
    positive(layer, "groups", groups)?;
    all_positive(layer, "kernel_size", kernel)?;
    all_positive(layer, "stride", stride)?;
    all_positive(layer, "dilation", dilation)?;
    if in_channels % groups != 0 {
        return Err(NnError::config(
            layer,
            "groups",
            format!("in_channels ({in_channels}) must be divisible by groups ({groups})"),
        ));
    }
    if out_channels % groups != 0 {
        return Err(NnError::config(
            layer,
            "groups",
            format!("out_channels ({out_channels}) must be divisible by groups ({groups})"),
        ));
    }
    if same && stride.iter().any(|&s| s != 1) {
        return Err(NnError::config(
            layer,
            "padding",
            "padding='same' is not supported for strided convolutions",
        ));
    }
    Ok(())
}

#[typetag::serde(name = "Conv2d")]
impl LayerConfig for Conv2dConfig {
    fn validate(&self) -> Result<(), NnError> {
        validate_conv(
            "Conv2d",
            self.in_channels,
            self.out_channels,
            self.groups,
            &self.kernel_size,
            &self.stride,
            &self.dilation,
            self.padding == Padding2d::Same,
        )
    }

    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        self.validate()?;
        Ok(Box::new(Conv2d::new(
            self.in_channels,
            self.out_channels,
            self.kernel_size,
            self.options(),
            self.bias,
            self.padding_mode,
            ctx.dtype,
            &mut ctx.gen,
        )))
    }

    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        let expected = || {
            format!(
                "[N, {}, H, W] or [{}, H, W]",
                self.in_channels, self.in_channels
            )
        };
        let r = input.len();
        if !(r == 3 || r == 4) || input[r - 3] != self.in_channels {
            return Err(shape_err(index, "Conv2d", expected(), input));
        }
        let pads = padding_pairs(self.padding, self.kernel_size, self.dilation);
        let mut out = input.to_vec();
        out[r - 3] = self.out_channels;
        for i in 0..2 {
            let len = input[r - 2 + i];
            let fits = match self.padding_mode {
                PaddingMode::Reflect => pads[i][0] < len && pads[i][1] < len,
                PaddingMode::Circular => pads[i][0] <= len && pads[i][1] <= len,
                _ => true,
            };
            let o = window_out(
                len,
                pads[i][0] + pads[i][1],
                self.dilation[i],
                self.kernel_size[i],
                self.stride[i],
            );
            match (fits, o) {
                (true, Some(o)) => out[r - 2 + i] = o,
                _ => {
                    return Err(shape_err(
                        index,
                        "Conv2d",
                        format!(
                            "{} with spatial size at least the dilated kernel {:?} after padding {:?} ({:?} padding)",
                            expected(),
                            self.kernel_size,
                            pads,
                            self.padding_mode
                        ),
                        input,
                    ))
                }
            }
        }
        Ok(out)
    }
}
