//! `Residual`: a skip connection `shortcut(x) + inner(x)` around a list of layers, with an
//! identity or a projection shortcut (a ResNet `BasicBlock` and its `downsample`).

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;

use crate::config::{BuildContext, DataInfo, LayerConfig};
use crate::error::NnError;
use crate::forward_context::ForwardContext;
use crate::module::join_name;
use crate::module::{Module, ModuleVisitor};
use crate::sequential::{Sequential, SequentialConfig};
use crate::util::shape_err;

/// `y = shortcut(x) + inner(x)`, where `inner` is its layers applied in order and
/// `shortcut` is the identity or its own layers (torchvision's `BasicBlock` with
/// `downsample = nn.Sequential(conv1x1(stride), BatchNorm2d)` when the block changes the
/// shape; without a shortcut it is the usual `class Residual(nn.Sequential)` whose `forward`
/// returns `x + super().forward(x)`). The activation after the sum is the next layer of the
/// enclosing `Sequential`. Parameters are named like a `Sequential`'s: the weight of the
/// first inner layer of a `Residual` at position 2 is `2.0.weight`, of its first shortcut
/// layer `2.shortcut.0.weight`.
#[derive(Debug)]
pub struct Residual {
    inner: Sequential,
    shortcut: Option<Sequential>,
}

impl Residual {
    /// A skip connection around `layers` (identity shortcut).
    pub fn new(layers: Vec<Box<dyn Module>>) -> Self {
        Residual {
            inner: Sequential::new(layers),
            shortcut: None,
        }
    }

    /// A skip connection around `layers` whose shortcut applies `shortcut` (a projection).
    pub fn with_shortcut(layers: Vec<Box<dyn Module>>, shortcut: Vec<Box<dyn Module>>) -> Self {
        Residual {
            inner: Sequential::new(layers),
            shortcut: Some(Sequential::new(shortcut)),
        }
    }

    /// The projection shortcut's layers, if any.
    pub fn shortcut(&self) -> Option<&Sequential> {
        self.shortcut.as_ref()
    }

    /// The wrapped layers.
    pub fn inner(&self) -> &Sequential {
        &self.inner
    }
}

impl Module for Residual {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        let skip = match &self.shortcut {
            Some(s) => s.forward(input),
            None => input,
        };
        skip.add(self.inner.forward(input))
    }
    fn forward_with<'t>(&self, input: Var<'t>, ctx: &ForwardContext) -> Var<'t> {
        let skip = match &self.shortcut {
            Some(s) => s.forward_with(input, ctx),
            None => input,
        };
        skip.add(self.inner.forward_with(input, ctx))
    }
    fn visit(&self, prefix: &str, v: &mut dyn ModuleVisitor) {
        self.inner.visit(prefix, v);
        if let Some(s) = &self.shortcut {
            s.visit(&join_name(prefix, "shortcut"), v);
        }
    }
    fn name(&self) -> &'static str {
        "Residual"
    }
    fn set_training(&mut self, training: bool) {
        self.inner.set_training(training);
        if let Some(s) = &mut self.shortcut {
            s.set_training(training);
        }
    }
    fn is_training(&self) -> bool {
        self.inner.is_training()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        let mut out = self.inner.children();
        if let Some(s) = &self.shortcut {
            out.push(("shortcut".to_string(), s as &dyn Module));
        }
        out
    }
}

/// Config of [`Residual`]: `{ type = "Residual", layers = [ ... ] }`, whose layers must keep
/// the input's shape, or with `shortcut = [ ... ]` (a 1x1 `Conv2d` with the block's stride
/// and a `BatchNorm2d`, as torchvision's `downsample`) whose output shape must equal the
/// layers'.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResidualConfig {
    /// The wrapped layers, in order.
    pub layers: Vec<Box<dyn LayerConfig>>,
    /// The projection applied to the input before the sum (default: none, the identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shortcut: Option<Vec<Box<dyn LayerConfig>>>,
}

impl ResidualConfig {
    fn as_sequential(&self) -> SequentialConfig {
        SequentialConfig {
            layers: self.layers.clone(),
        }
    }

    fn shortcut_sequential(&self) -> Option<SequentialConfig> {
        self.shortcut.as_ref().map(|layers| SequentialConfig {
            layers: layers.clone(),
        })
    }
}

#[typetag::serde(name = "Residual")]
impl LayerConfig for ResidualConfig {
    fn validate(&self) -> Result<(), NnError> {
        self.as_sequential().validate()?;
        match self.shortcut_sequential() {
            Some(s) => s.validate(),
            None => Ok(()),
        }
    }

    fn fill_from_data(&mut self, info: &DataInfo) -> Result<(), NnError> {
        let mut inner = self.as_sequential();
        inner.fill_from_data(info)?;
        self.layers = inner.layers;
        if let Some(mut s) = self.shortcut_sequential() {
            s.fill_from_data(info)?;
            self.shortcut = Some(s.layers);
        }
        Ok(())
    }

    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        let build = |layers: &[Box<dyn LayerConfig>], ctx: &mut BuildContext| {
            layers
                .iter()
                .map(|l| l.build(ctx))
                .collect::<Result<Vec<_>, _>>()
        };
        let layers = build(&self.layers, ctx)?;
        Ok(Box::new(match &self.shortcut {
            Some(s) => Residual::with_shortcut(layers, build(s, ctx)?),
            None => Residual::new(layers),
        }))
    }

    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        let inner_index = if index == "model" { "" } else { index };
        let out = self.as_sequential().output_shape(inner_index, input)?;
        let (skip, what) = match self.shortcut_sequential() {
            Some(s) => (
                s.output_shape(&join_name(inner_index, "shortcut"), input)?,
                "a shortcut",
            ),
            None => (input.to_vec(), "the input (no shortcut)"),
        };
        if out != skip {
            return Err(shape_err(
                index,
                "Residual",
                format!(
                    "inner layers with the shape of {what}: they map {input:?} to {out:?}, \
                     the skip path gives {skip:?}; a block that changes the shape needs \
                     shortcut = [a 1x1 Conv2d with the same stride, BatchNorm2d]"
                ),
                input,
            ));
        }
        Ok(out)
    }
}
