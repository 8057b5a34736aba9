//! # tuna-train
//!
//! Tuna's training engine. An [`Experiment`] (one TOML or JSON file:
//! data, model, loss, optimizer, schedule, regularization, training options) is validated as a
//! whole before any work starts; a [`Trainer`] runs it with callbacks,
//! metrics, a live progress display and a run folder (resolved config, `metrics.jsonl`,
//! `summary.json`, checkpoints, final weights, learning-curve plots) that can be resumed after
//! a crash with bit-identical results.

pub mod callback;
pub mod checkpoint;
pub mod curves;
pub mod diagnose;
pub mod error;
pub mod experiment;
pub mod generate;
pub mod lr_find;
pub mod lr_sweep;
pub mod metrics;
pub mod predict;
pub mod progress;
pub mod record;
pub mod run_dir;
pub mod signals;
pub mod summary;
pub mod trainer;

pub use callback::{Callback, Flow};
pub use error::TrainError;
pub use experiment::Experiment;
pub use record::EpochRecord;
pub use run_dir::RunDir;
pub use summary::{RunSummary, TimeSpent};
pub use trainer::Trainer;
