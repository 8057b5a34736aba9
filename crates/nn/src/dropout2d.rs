//! `Dropout2d`: zeroes whole channels in training (`torch.nn.Dropout2d(p=0.5)`).

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tuna_autograd::{functional, Var};
use tuna_tensor::Generator;

use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::module::{join_name, Module, ModuleItem, ModuleVisitor};
use crate::util::shape_err;

/// Zeroes each channel of an `(N, C, H, W)` or `(C, H, W)` input with probability `p` during
/// training and scales the rest by `1/(1-p)`; the identity in evaluation
/// (`torch.nn.Dropout2d`). Masks come from a generator derived from the model seed.
#[derive(Debug)]
pub struct Dropout2d {
    /// Drop probability.
    pub p: f64,
    training: bool,
    gen: Mutex<Generator>,
}

impl Dropout2d {
    /// A layer drawing its masks from `gen`.
    pub fn new(p: f64, gen: Generator) -> Self {
        Dropout2d {
            p,
            training: true,
            gen: Mutex::new(gen),
        }
    }
}

impl Module for Dropout2d {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        let mut g = self.gen.lock().unwrap_or_else(|e| e.into_inner());
        functional::dropout2d(input, self.p, self.training, &mut g)
    }
    fn visit(&self, prefix: &str, v: &mut dyn ModuleVisitor) {
        v.item(&join_name(prefix, "rng"), ModuleItem::Rng(&self.gen));
    }
    fn name(&self) -> &'static str {
        "Dropout2d"
    }
    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
    fn is_training(&self) -> bool {
        self.training
    }
}

fn half() -> f64 {
    0.5
}

/// Config of [`Dropout2d`] (`torch.nn.Dropout2d(p=0.5, inplace=False)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dropout2dConfig {
    /// Probability of zeroing a channel (`p`, default 0.5).
    #[serde(default = "half")]
    pub p: f64,
    /// Accepted for compatibility (`inplace`).
    #[serde(default)]
    pub inplace: bool,
}

#[typetag::serde(name = "Dropout2d")]
impl LayerConfig for Dropout2dConfig {
    fn validate(&self) -> Result<(), NnError> {
        if !(0.0..=1.0).contains(&self.p) {
            return Err(NnError::config(
                "Dropout2d",
                "p",
                format!("must be in [0, 1], got {}", self.p),
            ));
        }
        Ok(())
    }

    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        self.validate()?;
        Ok(Box::new(Dropout2d::new(self.p, ctx.gen.fork())))
    }

    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        if input.len() == 3 || input.len() == 4 {
            Ok(input.to_vec())
        } else {
            Err(shape_err(
                index,
                "Dropout2d",
                "[N, C, H, W] or [C, H, W]",
                input,
            ))
        }
    }
}
