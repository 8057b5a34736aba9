//! `Residual`: a skip connection `x + inner(x)` around a list of layers.

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;

use crate::error::NnError;
use crate::forward_context::ForwardContext;
use crate::module::{Module, ModuleVisitor};
use crate::sequential::{Sequential, SequentialSpec};
use crate::spec::{BuildContext, DataInfo, LayerSpec};
use crate::util::shape_err;

/// `y = x + inner(x)`, where `inner` is its layers applied in order (PyTorch has no class
/// for it; it is the usual `class Residual(nn.Sequential)` whose `forward` returns
/// `x + super().forward(x)`). Parameters are named like a `Sequential`'s: the weight of the
/// first inner layer of a `Residual` at position 2 is `2.0.weight`.
#[derive(Debug)]
pub struct Residual {
    inner: Sequential,
}

impl Residual {
    /// A skip connection around `layers`.
    pub fn new(layers: Vec<Box<dyn Module>>) -> Self {
        Residual {
            inner: Sequential::new(layers),
        }
    }

    /// The wrapped layers.
    pub fn inner(&self) -> &Sequential {
        &self.inner
    }
}

impl Module for Residual {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        input.add(self.inner.forward(input))
    }
    fn forward_with<'t>(&self, input: Var<'t>, ctx: &ForwardContext) -> Var<'t> {
        input.add(self.inner.forward_with(input, ctx))
    }
    fn visit(&self, prefix: &str, v: &mut dyn ModuleVisitor) {
        self.inner.visit(prefix, v);
    }
    fn type_name(&self) -> &'static str {
        "Residual"
    }
    fn set_training(&mut self, training: bool) {
        self.inner.set_training(training);
    }
    fn is_training(&self) -> bool {
        self.inner.is_training()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.inner.children()
    }
}

/// Config of [`Residual`]: `{ type = "Residual", layers = [ ... ] }`; the layers must keep
/// the input's shape.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResidualSpec {
    /// The wrapped layers, in order.
    pub layers: Vec<Box<dyn LayerSpec>>,
}

impl ResidualSpec {
    fn as_sequential(&self) -> SequentialSpec {
        SequentialSpec {
            layers: self.layers.clone(),
        }
    }
}

#[typetag::serde(name = "Residual")]
impl LayerSpec for ResidualSpec {
    fn validate(&self) -> Result<(), NnError> {
        self.as_sequential().validate()
    }

    fn fill_from_data(&mut self, info: &DataInfo) -> Result<(), NnError> {
        let mut inner = self.as_sequential();
        inner.fill_from_data(info)?;
        self.layers = inner.layers;
        Ok(())
    }

    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        let layers = self
            .layers
            .iter()
            .map(|l| l.build(ctx))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Box::new(Residual::new(layers)))
    }

    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        let inner_index = if index == "model" { "" } else { index };
        let out = self.as_sequential().output_shape(inner_index, input)?;
        if out != input {
            return Err(shape_err(
                index,
                "Residual",
                format!("inner layers that keep the shape (they map {input:?} to {out:?})"),
                input,
            ));
        }
        Ok(out)
    }
}
