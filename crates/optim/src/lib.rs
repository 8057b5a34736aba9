//! # tuna-optim
//!
//! Tuna's optimizers: PyTorch-exact update rules as typetag config plugins, parameter groups
//! selected by name patterns, gradient clipping, and optimizer state save/load keyed by
//! parameter names.
//!
//! - [`OptimizerConfig`]: the serializable plugin (`type = "AdamW"`, PyTorch's argument names
//!   and defaults); one module per optimizer (`sgd`, `adam`, `adamw`, `rmsprop`, `adagrad`,
//!   `adadelta`, `adamax`, `nadam`, `radam`, `asgd`, `rprop`, `adafactor`, `muon`, `lion`,
//!   `lamb`), each with its `XxxConfig`, runtime `Xxx` and state `XxxState`.
//! - [`Optimizer`]: the object-safe runtime (`step`, `zero_grad`, per-group `set_lr` /
//!   `set_momentum`, `state_dict` / `load_state_dict`, `save` / `load`).
//! - [`ParamGroupConfig`]: parameter groups by name globs with hyperparameter overrides.
//! - [`UpdateRule`] + [`GroupedOptimizer`]: write a new optimizer as one per-parameter update.
//! - [`clip_grad_norm`], [`clip_grad_norm_per_param`], [`clip_grad_value`].
//! - [`OptimizerState`]: the state dict; safetensors file layout in [`state`].
//!
//! ```
//! use tuna_autograd::Param;
//! use tuna_optim::{OptimizerConfig, ParamGroupConfig};
//! use tuna_tensor::Tensor;
//!
//! let w = Param::new(Tensor::from_vec(vec![1.0f32, -2.0], &[2]));
//! let b = Param::new(Tensor::from_vec(vec![0.5f32], &[1]));
//! // `[optimizer]` section of an experiment file (TOML or JSON)
//! let cfg: Box<dyn OptimizerConfig> =
//!     toml::from_str("type = \"AdamW\"\nlr = 1e-2\nweight_decay = 0.05").unwrap();
//! // no weight decay on biases: one param group
//! let groups = [ParamGroupConfig::new(["*bias"]).weight_decay(0.0)];
//! let mut opt = cfg
//!     .build(vec![("weight".into(), w.clone()), ("bias".into(), b.clone())], &groups)
//!     .unwrap();
//! w.set_grad(Some(Tensor::from_vec(vec![0.1f32, 0.2], &[2])));
//! b.set_grad(Some(Tensor::from_vec(vec![-0.3f32], &[1])));
//! opt.step().unwrap();
//! opt.zero_grad();
//! assert_eq!(opt.param_groups().len(), 2); // the bias group, then the default group
//! ```

mod error;

pub mod clip;
pub mod config;
pub mod optimizer;
pub mod state;

pub mod adadelta;
pub mod adafactor;
pub mod adagrad;
pub mod adam;
pub mod adamax;
pub mod adamw;
pub mod asgd;
pub mod lamb;
pub mod lion;
pub mod muon;
pub mod nadam;
pub mod radam;
pub mod rmsprop;
pub mod rprop;
pub mod sgd;

#[cfg(test)]
mod testing;

pub use adadelta::{Adadelta, AdadeltaConfig};
pub use adafactor::{Adafactor, AdafactorConfig};
pub use adagrad::{Adagrad, AdagradConfig};
pub use adam::{Adam, AdamConfig, AdamState, MomentState};
pub use adamax::{Adamax, AdamaxConfig};
pub use adamw::{AdamW, AdamWConfig};
pub use asgd::{Asgd, AsgdConfig};
pub use clip::{clip_grad_norm, clip_grad_norm_per_param, clip_grad_value, AsParam};
pub use config::{resolve_groups, OptimizerConfig, ParamGroupConfig};
pub use error::OptimError;
pub use lamb::{Lamb, LambConfig};
pub use lion::{Lion, LionConfig};
pub use muon::{AdjustLrFn, Muon, MuonConfig};
pub use nadam::{NAdam, NAdamConfig};
pub use optimizer::{
    CombinedOptimizer, GroupedOptimizer, Optimizer, ParamGroupInfo, RuleState, StateRecord,
    StepState, UpdateRule,
};
pub use radam::{RAdam, RAdamConfig};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use rprop::{Rprop, RpropConfig};
pub use sgd::{Sgd, SgdConfig};
pub use state::{GroupState, OptimizerState, ParamStateMeta};

/// Forces this crate's typetag plugins to be linked into the final binary (typetag registers a
/// type only if its crate is linked). The `tuna` umbrella crate calls it; call it yourself if
/// you depend on this crate alone and load plugins by name.
pub fn link() {}
