//! # tuna-tune
//!
//! Hyperparameter search over experiment files (Optuna's core, driven by a TOML search
//! space instead of an objective function): a [`SearchSpace`](search::SearchSpace) maps paths
//! of a base experiment to distributions; a [`Sampler`] (random, grid, TPE)
//! proposes values from the trials so far; a [`Pruner`] (median, successive
//! halving / ASHA, Hyperband) stops hopeless trials from their per-epoch objective values.
//! A study's trials live in a [`Storage`](storage::Storage): an SQLite file by default, or a
//! PostgreSQL database shared by workers on many machines.

pub mod pruner;
pub mod report;
pub mod runner;
pub mod sampler;
pub mod search;
pub mod space;
pub mod storage;
pub mod trial;

pub use pruner::{HyperbandPruner, MedianPruner, NopPruner, Pruner, SuccessiveHalvingPruner};
pub use sampler::{GridSampler, RandomSampler, Sampler, TpeSampler};
pub use space::{Distribution, ParamSpec};
pub use trial::{Direction, FrozenTrial, ParamValue, TrialState};
