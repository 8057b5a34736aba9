//! `ConvTranspose2d`: the transposed ("fractionally strided") 2-D convolution
//! (`torch.nn.ConvTranspose2d`).

use serde::{Deserialize, Serialize};
use tuna_autograd::{Param, Var};
use tuna_tensor::{ConvTranspose2dOptions, DType, Generator};

use crate::config::{BuildContext, LayerConfig};
use crate::conv2d::validate_conv;
use crate::error::NnError;
use crate::init;
use crate::module::{join_name, Module, ModuleItem, ModuleVisitor};
use crate::util::{de_pair, one, pair_0, pair_1, shape_err, yes, PaddingMode};

/// A transposed 2-D convolution (`torch.nn.ConvTranspose2d`): the gradient of `Conv2d` with
/// respect to its input, used to upsample. Output size per dim:
/// `(in − 1)·stride − 2·padding + dilation·(k − 1) + output_padding + 1`.
///
/// Parameters `weight` `[in_channels, out_channels/groups, kh, kw]` and `bias`
/// `[out_channels]`, initialized like PyTorch (U(-1/√fan_in, 1/√fan_in) with PyTorch's
/// `fan_in = out_channels/groups·kh·kw`, computed from the weight's dim 1).
#[derive(Debug)]
pub struct ConvTranspose2d {
    /// `[in_channels, out_channels/groups, kh, kw]`.
    pub weight: Param,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Param>,
    /// Stride, padding, output padding, groups and dilation.
    pub options: ConvTranspose2dOptions,
}

impl ConvTranspose2d {
    /// A layer with PyTorch's default initialization.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: [usize; 2],
        options: ConvTranspose2dOptions,
        bias: bool,
        dtype: DType,
        gen: &mut Generator,
    ) -> Self {
        let shape = [
            in_channels,
            out_channels / options.groups,
            kernel_size[0],
            kernel_size[1],
        ];
        let weight = Param::new(init::default_weight(&shape, dtype, gen));
        let fan_in = init::fans(&shape).0;
        let bias = bias.then(|| Param::new(init::default_bias(out_channels, fan_in, dtype, gen)));
        ConvTranspose2d {
            weight,
            bias,
            options,
        }
    }
}

impl Module for ConvTranspose2d {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        let tape = input.tape();
        input.conv_transpose2d(
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
        "ConvTranspose2d"
    }
}

/// Config of [`ConvTranspose2d`] (`torch.nn.ConvTranspose2d(in_channels, out_channels,
/// kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1,
/// padding_mode='zeros')`; as in PyTorch only `zeros` padding is supported).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvTranspose2dConfig {
    /// Input channels (`in_channels`).
    pub in_channels: usize,
    /// Output channels (`out_channels`).
    pub out_channels: usize,
    /// Kernel size (`kernel_size`).
    #[serde(deserialize_with = "de_pair")]
    pub kernel_size: [usize; 2],
    /// Stride (`stride`, default 1).
    #[serde(default = "pair_1", deserialize_with = "de_pair")]
    pub stride: [usize; 2],
    /// Padding removed from the output's borders (`padding`, default 0).
    #[serde(default = "pair_0", deserialize_with = "de_pair")]
    pub padding: [usize; 2],
    /// Extra size on one side of the output (`output_padding`, default 0).
    #[serde(default = "pair_0", deserialize_with = "de_pair")]
    pub output_padding: [usize; 2],
    /// Blocked connections (`groups`, default 1).
    #[serde(default = "one")]
    pub groups: usize,
    /// Whether to learn a bias (`bias`, default true).
    #[serde(default = "yes")]
    pub bias: bool,
    /// Spacing between kernel taps (`dilation`, default 1).
    #[serde(default = "pair_1", deserialize_with = "de_pair")]
    pub dilation: [usize; 2],
    /// Only `zeros` (`padding_mode`).
    #[serde(default)]
    pub padding_mode: PaddingMode,
}

#[typetag::serde(name = "ConvTranspose2d")]
impl LayerConfig for ConvTranspose2dConfig {
    fn validate(&self) -> Result<(), NnError> {
        validate_conv(
            "ConvTranspose2d",
            self.in_channels,
            self.out_channels,
            self.groups,
            &self.kernel_size,
            &self.stride,
            &self.dilation,
            false,
        )?;
        if self.padding_mode != PaddingMode::Zeros {
            return Err(NnError::config(
                "ConvTranspose2d",
                "padding_mode",
                format!("only \"zeros\" is supported, got {:?}", self.padding_mode),
            ));
        }
        for i in 0..2 {
            if self.output_padding[i] >= self.stride[i].max(self.dilation[i]) {
                return Err(NnError::config(
                    "ConvTranspose2d",
                    "output_padding",
                    format!(
                        "must be smaller than either stride or dilation, got output_padding {:?}, stride {:?}, dilation {:?}",
                        self.output_padding, self.stride, self.dilation
                    ),
                ));
            }
        }
        Ok(())
    }

    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        self.validate()?;
        let options = ConvTranspose2dOptions {
            stride: self.stride,
            padding: self.padding,
            output_padding: self.output_padding,
            groups: self.groups,
            dilation: self.dilation,
        };
        Ok(Box::new(ConvTranspose2d::new(
            self.in_channels,
            self.out_channels,
            self.kernel_size,
            options,
            self.bias,
            ctx.dtype,
            &mut ctx.gen,
        )))
    }

    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        let c = self.in_channels;
        let r = input.len();
        let err = || {
            shape_err(
                index,
                "ConvTranspose2d",
                format!("[N, {c}, H, W] or [{c}, H, W] with a positive output size"),
                input,
            )
        };
        if !(r == 3 || r == 4) || input[r - 3] != c {
            return Err(err());
        }
        let mut out = input.to_vec();
        out[r - 3] = self.out_channels;
        for i in 0..2 {
            let len = input[r - 2 + i];
            let full = (len.max(1) - 1) * self.stride[i]
                + self.dilation[i] * (self.kernel_size[i] - 1)
                + self.output_padding[i]
                + 1;
            if len == 0 || full <= 2 * self.padding[i] {
                return Err(err());
            }
            out[r - 2 + i] = full - 2 * self.padding[i];
        }
        Ok(out)
    }
}
