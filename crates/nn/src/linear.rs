//! `Linear`: `y = x·Wᵀ + b` (`torch.nn.Linear`).

use serde::{Deserialize, Serialize};
use tuna_autograd::{functional, Param, Var};
use tuna_tensor::{DType, Generator};

use crate::config::{BuildContext, DataInfo, LayerConfig};
use crate::error::NnError;
use crate::init;
use crate::module::{join_name, Module, ModuleItem, ModuleVisitor};

/// A fully connected layer, `y = x·Wᵀ + b` over the last dim (`torch.nn.Linear`).
///
/// Parameters `weight` `[out_features, in_features]` and `bias` `[out_features]`, initialized
/// like PyTorch: U(-1/√in, 1/√in) for both.
#[derive(Debug)]
pub struct Linear {
    /// `[out_features, in_features]`.
    pub weight: Param,
    /// `[out_features]`, if the layer has a bias.
    pub bias: Option<Param>,
}

impl Linear {
    /// A layer with PyTorch's default initialization.
    pub fn new(
        in_features: usize,
        out_features: usize,
        bias: bool,
        dtype: DType,
        gen: &mut Generator,
    ) -> Self {
        let weight = Param::new(init::default_weight(
            &[out_features, in_features],
            dtype,
            gen,
        ));
        let bias =
            bias.then(|| Param::new(init::default_bias(out_features, in_features, dtype, gen)));
        Linear { weight, bias }
    }
}

impl Module for Linear {
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t> {
        let tape = input.tape();
        functional::linear(
            input,
            tape.param(&self.weight),
            self.bias.as_ref().map(|b| tape.param(b)),
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
        "Linear"
    }
}

/// Config of [`Linear`] (`torch.nn.Linear(in_features, out_features, bias=True)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearConfig {
    /// Size of each input sample (`in_features`).
    pub in_features: usize,
    /// Size of each output sample (`out_features`). A model's last Linear may leave it out:
    /// it is filled with the width the task needs (classes, regression targets, or a language
    /// model's vocabulary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_features: Option<usize>,
    /// Whether to learn an additive bias (`bias`, default true).
    #[serde(default = "yes")]
    pub bias: bool,
}

fn yes() -> bool {
    true
}

impl LinearConfig {
    /// A spec with both sizes given.
    pub fn new(in_features: usize, out_features: usize) -> Self {
        LinearConfig {
            in_features,
            out_features: Some(out_features),
            bias: true,
        }
    }

    fn missing(&self) -> NnError {
        NnError::config(
            "Linear",
            "out_features",
            "missing: only a model's last Linear may leave it out (it is then the width the \
             task needs: the classes, the regression targets or a language model's vocabulary)",
        )
    }
}

#[typetag::serde(name = "Linear")]
impl LayerConfig for LinearConfig {
    fn validate(&self) -> Result<(), NnError> {
        if self.in_features == 0 {
            return Err(NnError::config(
                "Linear",
                "in_features",
                "must be positive, got 0",
            ));
        }
        if self.out_features == Some(0) {
            return Err(NnError::config(
                "Linear",
                "out_features",
                "must be positive, got 0",
            ));
        }
        Ok(())
    }

    fn fill_from_data(&mut self, info: &DataInfo) -> Result<(), NnError> {
        if self.out_features.is_none() {
            self.out_features = info.outputs;
        }
        Ok(())
    }

    fn build(&self, ctx: &mut BuildContext) -> Result<Box<dyn Module>, NnError> {
        self.validate()?;
        let out_features = self.out_features.ok_or_else(|| self.missing())?;
        Ok(Box::new(Linear::new(
            self.in_features,
            out_features,
            self.bias,
            ctx.dtype,
            &mut ctx.gen,
        )))
    }

    fn output_shape(&self, index: &str, input: &[usize]) -> Result<Vec<usize>, NnError> {
        let out_features = self.out_features.ok_or_else(|| self.missing())?;
        match input.last() {
            Some(&n) if n == self.in_features => {
                let mut out = input.to_vec();
                *out.last_mut().expect("non-empty") = out_features;
                Ok(out)
            }
            _ => Err(NnError::Shape {
                index: index.to_string(),
                layer: "Linear".into(),
                expected: format!("[*, {}]", self.in_features),
                got: input.to_vec(),
            }),
        }
    }
}
