//! # tuna-train
//!
//! Tuna's training engine. An [`Experiment`](experiment::Experiment) (one TOML or JSON file:
//! data, model, loss, optimizer, schedule, regularization, training options) is validated as a
//! whole before any work starts; a [`Trainer`](trainer::Trainer) runs it with callbacks,
//! metrics, a live progress display and a run folder (resolved config, `metrics.jsonl`,
//! `summary.json`, checkpoints, final weights, learning-curve plots) that can be resumed after
//! a crash with bit-identical results.

pub mod curves;
pub mod metrics;
pub mod record;

pub use record::EpochRecord;
