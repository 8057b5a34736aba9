//! `Sequential`: layers applied in order (`torch.nn.Sequential`), from code or from a list of
//! layer configs in a config.

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;

use crate::config::{BuildContext, DataInfo, LayerConfig};
use crate::error::NnError;
use crate::forward_context::ForwardContext;
use crate::module::{join_name, Module, ModuleVisitor};

/// Layers applied in order; parameters are named by position (`0.weight`, `2.bias`), as in
/// PyTorch, so state dicts move between the two unchanged.
#[derive(Debug, Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
    training: bool,
}

impl Sequential {
    /// A container of `layers`, in training mode.
    pub fn new(layers: Vec<Box<dyn Module>>) -> Self {
        Sequential {
            layers,
            training: true,
        }
    }

    /// Appends a layer (builder style).
    pub fn push(mut self, layer: impl Module + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// The layers.
    pub fn layers(&self) -> &[Box<dyn Module>] {
        &self.layers
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl Module for Sequential {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        self.layers.iter().fold(input, |x, layer| layer.forward(x))
    }

    fn forward_with<'t>(&self, input: Var<'t>, ctx: &ForwardContext) -> Var<'t> {
        self.layers
            .iter()
            .fold(input, |x, layer| layer.forward_with(x, ctx))
    }

    fn visit(&self, prefix: &str, v: &mut dyn ModuleVisitor) {
        for (i, layer) in self.layers.iter().enumerate() {
            layer.visit(&join_name(prefix, &i.to_string()), v);
        }
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn name(&self) -> &'static str {
        "Sequential"
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
        for l in &mut self.layers {
            l.set_training(training);
        }
    }

    fn is_training(&self) -> bool {
        self.training
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.layers
            .iter()
            .enumerate()
            .map(|(i, l)| (i.to_string(), l.as_ref()))
            .collect()
    }
}

/// Names the layer of a config error by its position (`layers[2] (Linear).in_features`).
fn in_layer(i: usize, e: NnError) -> NnError {
    match e {
        NnError::Config {
            layer,
            field,
            message,
        } => NnError::Config {
            layer: format!("layers[{i}] ({layer})"),
            field,
            message,
        },
        other => other,
    }
}

/// Config of [`Sequential`]: `{ type = "Sequential", layers = [ { type = "Linear", ... }, ... ] }`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequentialConfig {
    /// The layers, in order.
    pub layers: Vec<Box<dyn LayerConfig>>,
}

#[typetag::serde(name = "Sequential")]
impl LayerConfig for SequentialConfig {
    fn validate(&self) -> Result<(), NnError> {
        for (i, l) in self.layers.iter().enumerate() {
            l.validate().map_err(|e| in_layer(i, e))?;
        }
        Ok(())
    }

    fn fill_from_data(&mut self, info: &DataInfo) -> Result<(), NnError> {
        let last = self.layers.len().saturating_sub(1);
        for (i, l) in self.layers.iter_mut().enumerate() {
            let info = if i == last {
                info.clone()
            } else {
                info.inner()
            };
            l.fill_from_data(&info).map_err(|e| in_layer(i, e))?;
        }
        Ok(())
    }

    fn takes_token_ids(&self) -> bool {
        self.layers.first().is_some_and(|l| l.takes_token_ids())
    }

    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        let layers = self
            .layers
            .iter()
            .map(|l| l.build(ctx))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Box::new(Sequential::new(layers)))
    }

    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        let mut shape = input.to_vec();
        for (i, l) in self.layers.iter().enumerate() {
            let at = if index == "model" {
                i.to_string()
            } else {
                join_name(index, &i.to_string())
            };
            shape = l.output_shape(&at, &shape)?;
        }
        Ok(shape)
    }
}
