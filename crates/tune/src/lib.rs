//! # tuna-tune
//!
//! Hyperparameter search over experiment files (Optuna's core, driven by a TOML search
//! space instead of an objective function): a [`SearchSpace`](search::SearchSpace) maps paths
//! of a base experiment to distributions; a [`Sampler`] (random, grid, TPE, or your own)
//! proposes values from the trials so far; a [`Pruner`] (median, successive halving / ASHA,
//! Hyperband, or your own) stops hopeless trials from their per-epoch objective values.
//! Samplers and pruners are typetag plugins named by their Optuna class name (`type =
//! "TPESampler"`). A study's trials live behind the [`Storage`](storage::Storage) trait: an
//! SQLite file by default (feature `sqlite`), a PostgreSQL database shared by workers on many
//! machines (feature `postgres`), or memory.

pub mod cores;
pub mod error;
pub mod pruner;
pub mod report;
pub mod runner;
pub mod sampler;
pub mod search;
pub mod space;
pub mod storage;
pub mod trial;

pub use error::TuneError;
pub use pruner::{HyperbandPruner, MedianPruner, NopPruner, Pruner, SuccessiveHalvingPruner};
pub use sampler::{GridSampler, ParzenEstimator, ParzenParams, RandomSampler, Sampler, TpeSampler};
pub use space::{Distribution, ParamSpec};
pub use trial::{Direction, FrozenTrial, ParamValue, Params, TrialState};

/// Forces this crate's typetag plugins (samplers and pruners) to be linked into the final
/// binary (typetag registers a type only if its crate is linked). The `tuna` umbrella crate
/// calls it; call it yourself if you depend on this crate alone and load plugins by name.
pub fn link() {}
