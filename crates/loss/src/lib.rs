//! # tuna-loss
//!
//! Every `torch.nn` loss (plus torchvision's focal loss) as a [`Loss`] plugin: a serializable
//! config whose `type` tag is the PyTorch class name and whose fields are the PyTorch
//! constructor arguments with PyTorch's defaults. A loss maps named input [`Var`]s to a
//! differentiable loss `Var` (a scalar, or per-element values with `reduction = "none"`),
//! built from differentiable tape ops so gradients come from [`Var::backward`].
//!
//! ```
//! use tuna_autograd::Tape;
//! use tuna_loss::{Loss, LossError};
//! use tuna_tensor::Tensor;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! tuna_loss::link();
//! // a loss loaded by name from a config
//! let loss: Box<dyn Loss> =
//!     serde_json::from_str(r#"{"type": "CrossEntropyLoss", "label_smoothing": 0.1}"#)?;
//! loss.validate()?;
//!
//! let tape = Tape::new();
//! let logits = tape.var(Tensor::from_vec(vec![2.0f32, 0.5, -1.0, 0.1, 0.2, 3.0], &[2, 3]));
//! let classes = tape.constant(Tensor::from_vec(vec![0i64, 2], &[2]));
//! let out = loss.forward(logits, classes)?;
//! out.backward();
//! assert_eq!(logits.grad().unwrap().shape(), &[2, 3]);
//!
//! // losses with other inputs take them by their PyTorch forward() names ...
//! let triplet: Box<dyn Loss> = serde_json::from_str(r#"{"type": "TripletMarginLoss"}"#)?;
//! let x = |v: f32| tape.var(Tensor::from_vec(vec![v, 1.0, 2.0], &[1, 3]));
//! let (a, p, n) = (x(0.0), x(0.1), x(3.0));
//! let out = triplet.forward_named(&[("anchor", a), ("positive", p), ("negative", n)])?;
//! // ... or positionally, in forward() order
//! let same = triplet.forward_args(&[a, p, n])?;
//! assert_eq!(out.item(), same.item());
//!
//! // and every mistake is an error naming the loss and the input
//! let err = triplet.forward(a, p).unwrap_err();
//! assert!(matches!(err, LossError::UnknownInput { .. }));
//! assert_eq!(
//!     err.to_string(),
//!     "TripletMarginLoss: unknown input `input`; forward takes (anchor, positive, negative)"
//! );
//! # Ok(())
//! # }
//! ```
//!
//! Targets never receive gradients unless PyTorch differentiates them: pass class indices,
//! ±1 labels and 0/1 multi-labels as constants (`tape.constant`); regression and
//! distribution targets (MSE, BCE, KLDiv, GaussianNLL's `var`, probability targets of
//! CrossEntropy, ...) are differentiated when they are `tape.var`s.

use std::fmt::Debug;

use dyn_clone::DynClone;
use serde::{Deserialize, Serialize};
use tuna_autograd::{Param, Var};
use tuna_tensor::{DType, Tensor};

mod bce;
mod cross_entropy;
mod embedding;
mod focal;
mod gaussian_nll;
mod kl_div;
mod l1;
mod linear_cross_entropy;
mod margin;
mod mse;
mod poisson_nll;
mod triplet;
pub(crate) mod util;

pub use bce::{BceLoss, BceWithLogitsLoss};
pub use cross_entropy::{CrossEntropyLoss, NllLoss};
pub use embedding::{CosineEmbeddingLoss, HingeEmbeddingLoss, MarginRankingLoss};
pub use focal::FocalLoss;
pub use gaussian_nll::GaussianNllLoss;
pub use kl_div::KlDivLoss;
pub use l1::{HuberLoss, L1Loss, SmoothL1Loss};
pub use linear_cross_entropy::{LinearCrossEntropyLoss, OptionValue};
pub use margin::{MultiLabelMarginLoss, MultiLabelSoftMarginLoss, MultiMarginLoss, SoftMarginLoss};
pub use mse::MseLoss;
pub use poisson_nll::PoissonNllLoss;
pub use triplet::{DistanceFunction, TripletMarginLoss, TripletMarginWithDistanceLoss};

/// Forces this crate's typetag plugins to be linked into the final binary (typetag registers a
/// type only if its crate is linked). The `tuna` umbrella crate calls it; call it yourself if
/// you depend on this crate alone and load plugins by name.
pub fn link() {}

/// A loss function: a serializable config (`type` = PyTorch class name) that turns named
/// inputs into a differentiable loss.
///
/// Implement it for your own type with `#[typetag::serde(name = "MyLoss")]` and it can be
/// loaded by name from any config. Every loss implements [`Loss::forward_named`], so a loss
/// loaded by name can always be called; [`Loss::forward`] and [`Loss::forward_args`] are
/// conveniences on top of it.
#[typetag::serde(tag = "type")]
pub trait Loss: DynClone + Debug + Send + Sync {
    /// The PyTorch class name (the serde tag), e.g. `"CrossEntropyLoss"`.
    fn name(&self) -> &'static str {
        self.typetag_name()
    }

    /// The names of `forward`'s inputs, in PyTorch's `forward()` order, e.g.
    /// `["input", "target"]` or `["anchor", "positive", "negative"]`.
    fn input_names(&self) -> &'static [&'static str];

    /// Checks the configuration (ranges, enum values) without any input.
    ///
    /// # Errors
    /// [`LossError::InvalidConfig`] naming the field, what was expected and what was found.
    fn validate(&self) -> Result<(), LossError>;

    /// The loss of the named inputs (names as in [`Loss::input_names`], any order).
    ///
    /// # Errors
    /// A missing, unknown or duplicated input, or an input of the wrong dtype or shape, or
    /// an invalid config.
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError>;

    /// The loss of `(input, target)`, the common two-input case.
    ///
    /// # Errors
    /// As [`Loss::forward_named`]; a loss whose inputs are not `input` and `target`
    /// returns [`LossError::UnknownInput`] (or [`LossError::MissingInput`] when it takes a
    /// third input, e.g. GaussianNLLLoss's `var`).
    fn forward<'t>(&self, input: Var<'t>, target: Var<'t>) -> Result<Var<'t>, LossError> {
        self.forward_named(&[("input", input), ("target", target)])
    }

    /// The loss of positional inputs, in [`Loss::input_names`] order, e.g.
    /// `loss.forward_args(&[anchor, positive, negative])`.
    ///
    /// # Errors
    /// [`LossError::WrongArity`] when the count differs, else as [`Loss::forward_named`].
    fn forward_args<'t>(&self, args: &[Var<'t>]) -> Result<Var<'t>, LossError> {
        let names = self.input_names();
        if args.len() != names.len() {
            return Err(LossError::WrongArity {
                loss: self.name(),
                expected: names.join(", "),
                got: args.len(),
            });
        }
        let named: Vec<(&str, Var<'t>)> = names.iter().copied().zip(args.iter().copied()).collect();
        self.forward_named(&named)
    }

    /// Trainable parameters owned by the loss, keyed by their state-dict names (only
    /// [`LinearCrossEntropyLoss`] has any: `linear.weight`, `linear.bias`).
    fn parameters(&self) -> Vec<(String, Param)> {
        Vec::new()
    }
}

dyn_clone::clone_trait_object!(Loss);

/// How per-element losses are combined (PyTorch's `reduction` argument).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduction {
    /// The (weighted) mean, PyTorch's default (`"mean"`).
    #[default]
    Mean,
    /// The sum (`"sum"`).
    Sum,
    /// No reduction: one loss per element or sample (`"none"`).
    None,
    /// Sum divided by the batch size, KLDivLoss only (`"batchmean"`).
    Batchmean,
}

/// Everything that can go wrong configuring or calling a loss. Every variant names the loss.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LossError {
    /// A config field is out of range.
    #[error("{loss}: `{field}` {expected}, got {got}")]
    InvalidConfig {
        /// The loss (PyTorch class name).
        loss: &'static str,
        /// The config field.
        field: &'static str,
        /// What was expected.
        expected: String,
        /// What was found.
        got: String,
    },
    /// An input tensor has the wrong dtype, shape or values.
    #[error("{loss}: {input} {expected}, got {got}")]
    InvalidInput {
        /// The loss (PyTorch class name).
        loss: &'static str,
        /// The input (forward argument or tensor-valued config argument).
        input: String,
        /// What was expected.
        expected: String,
        /// What was found.
        got: String,
    },
    /// A required input was not given.
    #[error("{loss}: missing input `{input}`; forward takes ({expected})")]
    MissingInput {
        /// The loss (PyTorch class name).
        loss: &'static str,
        /// The missing input.
        input: &'static str,
        /// All the inputs the loss takes.
        expected: String,
    },
    /// An input name the loss does not take.
    #[error("{loss}: unknown input `{input}`; forward takes ({expected})")]
    UnknownInput {
        /// The loss (PyTorch class name).
        loss: &'static str,
        /// The unknown name.
        input: String,
        /// All the inputs the loss takes.
        expected: String,
    },
    /// An input given twice.
    #[error("{loss}: input `{input}` given twice")]
    DuplicateInput {
        /// The loss (PyTorch class name).
        loss: &'static str,
        /// The duplicated name.
        input: String,
    },
    /// A positional call with the wrong number of inputs.
    #[error("{loss}: forward takes ({expected}), got {got} inputs")]
    WrongArity {
        /// The loss (PyTorch class name).
        loss: &'static str,
        /// All the inputs the loss takes.
        expected: String,
        /// How many were given.
        got: usize,
    },
}

/// A tensor-valued constructor argument (`weight`, `pos_weight`).
///
/// Serialized as a plain list of floats when 1-d (`weight = [1.0, 2.0, 0.5]`), else as
/// `{"shape": [4, 1], "data": [...]}`; both forms, and the fixtures'
/// `{"shape", "dtype", "data"}` objects, deserialize. Values are kept in f64 and converted
/// to the input's dtype at forward time.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorArg {
    shape: Vec<usize>,
    data: Vec<f64>,
}

impl TensorArg {
    /// A 1-d argument (e.g. per-class weights).
    pub fn from_vec(data: Vec<f64>) -> Self {
        TensorArg {
            shape: vec![data.len()],
            data,
        }
    }

    /// An argument of any shape.
    ///
    /// # Panics
    /// If `data.len()` is not the product of `shape`.
    pub fn new(data: Vec<f64>, shape: &[usize]) -> Self {
        assert_eq!(
            data.len(),
            shape.iter().product::<usize>(),
            "TensorArg: data length does not match shape {shape:?}"
        );
        TensorArg {
            shape: shape.to_vec(),
            data,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The values, row-major.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// As a tensor of `dtype`.
    pub fn to_tensor(&self, dtype: DType) -> Tensor {
        Tensor::from_vec(self.data.clone(), &self.shape).to_dtype(dtype)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum TensorArgRepr {
    List(Vec<f64>),
    Full {
        shape: Vec<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dtype: Option<String>,
        data: Vec<f64>,
    },
}

impl Serialize for TensorArg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.shape.len() == 1 {
            TensorArgRepr::List(self.data.clone()).serialize(s)
        } else {
            TensorArgRepr::Full {
                shape: self.shape.clone(),
                dtype: None,
                data: self.data.clone(),
            }
            .serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for TensorArg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match TensorArgRepr::deserialize(d).map_err(|_| {
            D::Error::custom(
                "expected a list of floats or a tensor {\"shape\": [...], \"data\": [...]}",
            )
        })? {
            TensorArgRepr::List(data) => Ok(TensorArg::from_vec(data)),
            TensorArgRepr::Full { shape, dtype, data } => {
                if let Some(dt) = dtype {
                    if dt != "f32" && dt != "f64" {
                        return Err(D::Error::custom(format!(
                            "tensor argument dtype must be \"f32\" or \"f64\", got {dt:?}"
                        )));
                    }
                }
                if data.len() != shape.iter().product::<usize>() {
                    return Err(D::Error::custom(format!(
                        "tensor argument has {} values but shape {:?}",
                        data.len(),
                        shape
                    )));
                }
                Ok(TensorArg { shape, data })
            }
        }
    }
}

/// One default-configured instance of every built-in loss (the registry: docs, tests and
/// tools that list the available losses use it).
pub fn builtin_losses() -> Vec<Box<dyn Loss>> {
    vec![
        Box::new(MseLoss::default()),
        Box::new(L1Loss::default()),
        Box::new(SmoothL1Loss::default()),
        Box::new(HuberLoss::default()),
        Box::new(CrossEntropyLoss::default()),
        Box::new(NllLoss::default()),
        Box::new(BceLoss::default()),
        Box::new(BceWithLogitsLoss::default()),
        Box::new(KlDivLoss::default()),
        Box::new(PoissonNllLoss::default()),
        Box::new(GaussianNllLoss::default()),
        Box::new(HingeEmbeddingLoss::default()),
        Box::new(MarginRankingLoss::default()),
        Box::new(CosineEmbeddingLoss::default()),
        Box::new(TripletMarginLoss::default()),
        Box::new(TripletMarginWithDistanceLoss::default()),
        Box::new(MultiMarginLoss::default()),
        Box::new(MultiLabelMarginLoss::default()),
        Box::new(MultiLabelSoftMarginLoss::default()),
        Box::new(SoftMarginLoss::default()),
        Box::new(LinearCrossEntropyLoss::new(8, 4)),
        Box::new(FocalLoss::default()),
    ]
}
