//! # tuna-regularize
//!
//! Tuna's regularization: penalties added to the loss ([`Regularizer`]: [`L1`], [`L2`],
//! [`ElasticNet`]), projections applied after each optimizer step ([`Constraint`]:
//! [`MaxNorm`], [`UnitNorm`], [`NonNeg`]) and the [`EarlyStopping`] policy. Dropout is a layer
//! and lives in `tuna-nn`.
//!
//! Regularizers and constraints are `typetag` plugins (`type = "L2"`, `type = "MaxNorm"`), and
//! select the parameters they act on by state-dict name with glob patterns: `params` (default
//! `["*weight"]`, i.e. weights, not biases) and `exclude` (default empty).
//!
//! ```
//! use tuna_autograd::{NamedParam, Param, Tape};
//! use tuna_regularize::{Constraint, MaxNorm, Regularizer, L2};
//! use tuna_tensor::Tensor;
//!
//! let w = Param::new(Tensor::from_vec(vec![0.6f32, 0.8, -3.0, 4.0], &[2, 2]));
//! let b = Param::new(Tensor::from_vec(vec![0.0f32, 0.0], &[2]));
//! let params: Vec<NamedParam> = vec![("fc.weight".into(), w.clone()), ("fc.bias".into(), b)];
//!
//! // from a config file
//! let reg: Box<dyn Regularizer> = toml::from_str("type = \"L2\"\nweight = 0.01").unwrap();
//! let max_norm: Box<dyn Constraint> = toml::from_str("type = \"MaxNorm\"\nmax_value = 2.0").unwrap();
//! reg.validate().unwrap();
//! max_norm.validate().unwrap();
//!
//! // a training step: loss + penalty, backward, optimizer step, then the constraint
//! let x = Tensor::from_vec(vec![1.0f32, 2.0], &[1, 2]);
//! let tape = Tape::new();
//! let wv = tape.param(&w);
//! let loss = tape.constant(x).matmul(wv.t()).square().mean();
//! let penalty = reg.penalty(&tape, &[("fc.weight".to_string(), wv)]).unwrap();
//! // 0.01 · (0.36 + 0.64 + 9 + 16)
//! assert!((penalty.item() - 0.26).abs() < 1e-6);
//! loss.add(penalty).backward();
//! drop(tape);
//! let g = w.grad().unwrap();
//! w.update(|v| v.add_scaled_(&g, -0.1)); // plain SGD
//! max_norm.apply(&params).unwrap(); // every row of fc.weight now has norm <= 2
//! assert!(tuna_regularize::slice_norms(&w.value(), 0).iter().all(|&n| n <= 2.0));
//! # assert!((L2::new(0.01).value(&params) - reg.value(&params)).abs() < 1e-12);
//! # let _ = MaxNorm::default();
//! ```
//!
//! The L2 factor convention is Keras': `L2 { weight }` adds `weight · Σw²`, whose gradient
//! `2·weight·w` equals SGD's `weight_decay = 2·weight` (see [`L2`]).

mod constraint;
mod early_stopping;
mod elastic_net;
mod error;
mod l1;
mod l2;
mod max_norm;
mod non_neg;
mod regularizer;
mod selection;
mod unit_norm;

pub use constraint::{apply_constraints, slice_norms, Constraint};
pub use early_stopping::{
    EarlyStopping, EarlyStoppingConfig, EarlyStoppingDecision, EarlyStoppingState, Mode,
    StopReason, MAX_MODE_HINTS,
};
pub use elastic_net::ElasticNet;
pub use error::RegularizeError;
pub use l1::L1;
pub use l2::L2;
pub use max_norm::MaxNorm;
pub use non_neg::NonNeg;
pub use regularizer::{total_penalty, Regularizer};
pub use selection::{default_params, is_selected};
pub use unit_norm::UnitNorm;

/// Forces this crate's typetag plugins to be linked into the final binary (typetag registers a
/// type only if its crate is linked). The `tuna` umbrella crate calls it; call it yourself if
/// you depend on this crate alone and load plugins by name.
pub fn link() {}
