//! `Dropout`: inverted dropout in training mode, the identity in evaluation
//! (`torch.nn.Dropout(p=0.5)`), reproducible from the model's seed.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tuna_autograd::{functional, Var};
use tuna_tensor::Generator;

use crate::config::{BuildContext, LayerConfig};
use crate::error::NnError;
use crate::module::{join_name, Module, ModuleItem, ModuleVisitor};

/// Zeroes each element with probability `p` during training and scales the rest by
/// `1/(1-p)` (`torch.nn.Dropout`). Its masks come from a generator derived from the model
/// seed, so two runs with one seed drop the same units.
#[derive(Debug)]
pub struct Dropout {
    /// Drop probability.
    pub p: f64,
    training: bool,
    gen: Mutex<Generator>,
}

impl Dropout {
    /// A dropout layer drawing its masks from `gen`.
    pub fn new(p: f64, gen: Generator) -> Self {
        Dropout {
            p,
            training: true,
            gen: Mutex::new(gen),
        }
    }
}

impl Module for Dropout {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        let mut g = self.gen.lock().unwrap_or_else(|e| e.into_inner());
        functional::dropout(input, self.p, self.training, &mut g)
    }
    fn visit(&self, prefix: &str, v: &mut dyn ModuleVisitor) {
        v.item(&join_name(prefix, "rng"), ModuleItem::Rng(&self.gen));
    }
    fn name(&self) -> &'static str {
        "Dropout"
    }
    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
    fn is_training(&self) -> bool {
        self.training
    }
}

/// Config of [`Dropout`] (`torch.nn.Dropout(p=0.5, inplace=False)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropoutConfig {
    /// Probability of zeroing an element (`p`, default 0.5).
    #[serde(default = "half")]
    pub p: f64,
    /// Accepted for compatibility (`inplace`).
    #[serde(default)]
    pub inplace: bool,
}

fn half() -> f64 {
    0.5
}

#[typetag::serde(name = "Dropout")]
impl LayerConfig for DropoutConfig {
    fn validate(&self) -> Result<(), NnError> {
        if !(0.0..=1.0).contains(&self.p) {
            return Err(NnError::config(
                "Dropout",
                "p",
                format!("must be in [0, 1], got {}", self.p),
            ));
        }
        Ok(())
    }

    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        self.validate()?;
        Ok(Box::new(Dropout::new(self.p, ctx.gen.fork())))
    }

    fn output_shape(&self, _index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        Ok(input.to_vec())
    }
}
