//! Cross entropy of a linear projection (`torch.nn.LinearCrossEntropyLoss`, new in
//! torch 2.15): the loss owns the classifier head `linear` and computes
//! `cross_entropy(linear(input), target)`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tuna_autograd::{functional::linear, Param, Var};
use tuna_tensor::{DType, Generator, Tensor};

use crate::cross_entropy::{to_isize, ClassOptions};
use crate::util::{
    bad_config, bad_input, check_float, check_reduction, check_tensor_arg, fmt_shape, take,
};
use crate::{CrossEntropyLoss, Loss, LossError, Reduction, TensorArg};

/// A value in [`LinearCrossEntropyLoss::options`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OptionValue {
    /// A boolean.
    Bool(bool),
    /// An integer (e.g. a chunk size).
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    in_features: usize,
    num_classes: usize,
    #[serde(default)]
    out_features: Vec<usize>,
    #[serde(default)]
    bias: bool,
    #[serde(default)]
    reduction: Reduction,
    #[serde(default)]
    weight: Option<TensorArg>,
    #[serde(default)]
    ignore_index: Option<i64>,
    #[serde(default)]
    label_smoothing: f64,
    #[serde(default)]
    options: Option<BTreeMap<String, OptionValue>>,
}

/// Cross entropy of `linear(input)` (`torch.nn.LinearCrossEntropyLoss`): the loss owns a
/// bias-optional projection `linear` from `in_features` to `num_classes × prod(out_features)`
/// logits, reshaped to `(*, C, *out_features)` and passed to [`CrossEntropyLoss`] with
/// `weight`, `ignore_index` and `label_smoothing`.
///
/// Its parameters are [`Param`]s named as in PyTorch's `state_dict`: `linear.weight`
/// (`[C·prod(out_features), in_features]`) and, with `bias`, `linear.bias`; get them from
/// [`Loss::parameters`] to optimize or load them. They are initialized like `nn.Linear`
/// (uniform in `±1/sqrt(in_features)`) from a fixed seed, or from your generator with
/// [`LinearCrossEntropyLoss::reset_parameters`]. The config (not the weights) is what
/// serializes; cloning shares the parameters (as cloning a `Param` does).
///
/// `options` (PyTorch's chunked fast path) only changes speed and memory in PyTorch, never
/// the result: it is accepted, kept for round trips, and ignored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(into = "Config", try_from = "Config")]
pub struct LinearCrossEntropyLoss {
    /// `in_features`: size of each input sample (required).
    pub in_features: usize,
    /// `num_classes`: number of classes `C` (required).
    pub num_classes: usize,
    /// `out_features`: extra dimensions `(d1, ..., dK)` for a K-dimensional loss. Default `[]`.
    pub out_features: Vec<usize>,
    /// `bias`: the projection has a bias. Default `false`.
    pub bias: bool,
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
    /// `weight`: per-class rescaling `[C]`, or `null` (default).
    pub weight: Option<TensorArg>,
    /// `ignore_index`: ignored target class; `null` (default) means `-100`.
    pub ignore_index: Option<i64>,
    /// `label_smoothing`: ε in `[0, 1]`. Default `0.0`.
    pub label_smoothing: f64,
    /// `options`: PyTorch's chunking options; accepted and ignored. Default `null`.
    pub options: Option<BTreeMap<String, OptionValue>>,
    linear_weight: Param,
    linear_bias: Option<Param>,
}

impl From<LinearCrossEntropyLoss> for Config {
    fn from(l: LinearCrossEntropyLoss) -> Self {
        Config {
            in_features: l.in_features,
            num_classes: l.num_classes,
            out_features: l.out_features,
            bias: l.bias,
            reduction: l.reduction,
            weight: l.weight,
            ignore_index: l.ignore_index,
            label_smoothing: l.label_smoothing,
            options: l.options,
        }
    }
}

impl TryFrom<Config> for LinearCrossEntropyLoss {
    type Error = LossError;
    fn try_from(c: Config) -> Result<Self, LossError> {
        let rows = c.num_classes * c.out_features.iter().product::<usize>();
        let l = LinearCrossEntropyLoss {
            linear_weight: Param::new(Tensor::zeros(&[rows, c.in_features], DType::F32)),
            linear_bias: c
                .bias
                .then(|| Param::new(Tensor::zeros(&[rows], DType::F32))),
            in_features: c.in_features,
            num_classes: c.num_classes,
            out_features: c.out_features,
            bias: c.bias,
            reduction: c.reduction,
            weight: c.weight,
            ignore_index: c.ignore_index,
            label_smoothing: c.label_smoothing,
            options: c.options,
        };
        l.validate()?;
        l.reset_parameters(&mut Generator::new(0));
        Ok(l)
    }
}

impl LinearCrossEntropyLoss {
    /// A loss with a `in_features → num_classes` head and PyTorch's defaults otherwise.
    ///
    /// # Panics
    /// If either size is 0.
    pub fn new(in_features: usize, num_classes: usize) -> Self {
        LinearCrossEntropyLoss::try_from(Config {
            in_features,
            num_classes,
            out_features: Vec::new(),
            bias: false,
            reduction: Reduction::Mean,
            weight: None,
            ignore_index: None,
            label_smoothing: 0.0,
            options: None,
        })
        .expect("LinearCrossEntropyLoss::new: sizes must be >= 1")
    }

    /// Re-initializes the projection like `nn.Linear.reset_parameters`: weight and bias
    /// uniform in `±1/sqrt(in_features)`, drawn from `gen`.
    pub fn reset_parameters(&self, gen: &mut Generator) {
        let bound = 1.0 / (self.in_features as f64).sqrt();
        let shape = self.linear_weight.shape();
        self.linear_weight
            .set_value(Tensor::uniform(&shape, -bound, bound, DType::F32, gen));
        if let Some(b) = &self.linear_bias {
            b.set_value(Tensor::uniform(&b.shape(), -bound, bound, DType::F32, gen));
        }
    }

    /// The projection weight `linear.weight`.
    pub fn linear_weight(&self) -> &Param {
        &self.linear_weight
    }

    /// The projection bias `linear.bias`, if `bias` is set.
    pub fn linear_bias(&self) -> Option<&Param> {
        self.linear_bias.as_ref()
    }
}

#[typetag::serde(name = "LinearCrossEntropyLoss")]
impl Loss for LinearCrossEntropyLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)?;
        check_tensor_arg(self.name(), "weight", self.weight.as_ref())?;
        if self.in_features == 0 {
            return Err(bad_config(self.name(), "in_features", "must be >= 1", "0"));
        }
        if self.num_classes == 0 {
            return Err(bad_config(self.name(), "num_classes", "must be >= 1", "0"));
        }
        if self.out_features.contains(&0) {
            return Err(bad_config(
                self.name(),
                "out_features",
                "must hold sizes >= 1",
                format!("{:?}", self.out_features),
            ));
        }
        if let Some(w) = &self.weight {
            if w.shape() != [self.num_classes] {
                return Err(bad_config(
                    self.name(),
                    "weight",
                    format!("must have shape [{}] (num_classes)", self.num_classes),
                    format!("shape {}", fmt_shape(w.shape())),
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.label_smoothing) {
            return Err(bad_config(
                self.name(),
                "label_smoothing",
                "must be in [0, 1]",
                self.label_smoothing.to_string(),
            ));
        }
        Ok(())
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let [input, target] = take(self.name(), args, ["input", "target"])?;
        check_float(self.name(), "input", input)?;
        let s = input.shape();
        if s.is_empty() || s[s.len() - 1] != self.in_features {
            return Err(bad_input(
                self.name(),
                "input",
                format!(
                    "must have shape (*, {}) (in_features last)",
                    self.in_features
                ),
                fmt_shape(&s),
            ));
        }
        let pdtype = self.linear_weight.value().dtype();
        if pdtype != input.dtype() {
            return Err(bad_input(
                self.name(),
                "input",
                format!("must have the parameters' dtype {pdtype}"),
                format!("dtype {}", input.dtype()),
            ));
        }
        let tape = input.tape();
        let w = tape.param(&self.linear_weight);
        let b = self.linear_bias.as_ref().map(|b| tape.param(b));
        let logits = linear(input, w, b);
        let mut shape = to_isize(&s[..s.len() - 1]);
        shape.push(self.num_classes as isize);
        shape.extend(to_isize(&self.out_features));
        let logits = logits.reshape(&shape);
        let opts = ClassOptions {
            weight: self.weight.as_ref(),
            ignore_index: self.ignore_index.unwrap_or(-100),
            label_smoothing: self.label_smoothing,
            reduction: self.reduction,
        };
        CrossEntropyLoss::compute(self.name(), logits, target, &opts)
    }
    fn parameters(&self) -> Vec<(String, Param)> {
        let mut p = vec![("linear.weight".to_string(), self.linear_weight.clone())];
        if let Some(b) = &self.linear_bias {
            p.push(("linear.bias".to_string(), b.clone()));
        }
        p
    }
}

impl std::fmt::Display for LinearCrossEntropyLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LinearCrossEntropyLoss(in_features={}, num_classes={}, bias={})",
            self.in_features, self.num_classes, self.bias
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testing::{assert_roundtrip, from_json};
    use tuna_autograd::Tape;

    #[test]
    fn config_params_and_roundtrip() {
        let l = from_json(
            r#"{"type":"LinearCrossEntropyLoss","in_features":3,"num_classes":4,"bias":true,"options":{"chunk_size":128}}"#,
        )
        .unwrap();
        assert_roundtrip(l.as_ref());
        let names: Vec<String> = l.parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["linear.weight", "linear.bias"]);
        assert_eq!(l.parameters()[0].1.shape(), vec![4, 3]);
        let w = l.parameters()[0].1.value().to_vec_f64();
        assert!(w.iter().all(|v| v.abs() <= 1.0 / 3f64.sqrt()));

        let tape = Tape::new();
        let x = tape.var(Tensor::ones(&[2, 3], DType::F32));
        let t = tape.constant(Tensor::from_vec(vec![0i64, 3], &[2]));
        l.forward(x, t).unwrap().backward();
        assert!(l.parameters()[1].1.grad().is_some());
    }

    #[test]
    fn k_dimensional_out_features() {
        let l = from_json(
            r#"{"type":"LinearCrossEntropyLoss","in_features":3,"num_classes":4,"out_features":[2],"bias":true,"reduction":"none"}"#,
        )
        .unwrap();
        assert_eq!(l.parameters()[0].1.shape(), vec![8, 3]);
        assert_eq!(l.parameters()[1].1.shape(), vec![8]);
        let tape = Tape::new();
        let x = tape.var(Tensor::ones(&[5, 3], DType::F32));
        let t = tape.constant(Tensor::from_vec(
            vec![0i64, 1, 2, 3, 0, 1, 2, 3, 0, 1],
            &[5, 2],
        ));
        let out = l.forward(x, t).unwrap();
        assert_eq!(out.shape().as_slice(), &[5, 2]);
        out.sum().backward();
        assert_eq!(x.grad().unwrap().shape(), &[5, 3]);
    }

    #[test]
    fn errors() {
        let e = from_json(r#"{"type":"LinearCrossEntropyLoss","in_features":3}"#).unwrap_err();
        assert!(e.to_string().contains("num_classes"), "{e}");
        let e = from_json(r#"{"type":"LinearCrossEntropyLoss","in_features":0,"num_classes":2}"#)
            .unwrap_err();
        assert!(e.to_string().contains("`in_features` must be >= 1"), "{e}");
        let l = LinearCrossEntropyLoss::new(3, 2);
        let tape = Tape::new();
        let x = tape.var(Tensor::ones(&[2, 4], DType::F32));
        let t = tape.constant(Tensor::from_vec(vec![0i64, 1], &[2]));
        let e = l.forward(x, t).unwrap_err();
        assert!(e.to_string().contains("must have shape (*, 3)"), "{e}");
    }
}
