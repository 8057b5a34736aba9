//! # tuna-data
//!
//! Tuna's data pipeline: the [`Dataset`] trait and the in-memory [`TensorDataset`], a seeded
//! shuffling [`DataLoader`] that batches samples straight into one tensor per batch, readers
//! for MNIST IDX files and CSV tables, seeded (optionally stratified) train/validation splits,
//! and normalization fitted on the training split only.
//!
//! Data sources are `typetag` plugins ([`DataConfig`]): `type = "Mnist"` and `type = "Csv"`
//! are built in, and a user crate can register its own, usable by name from an experiment
//! file's `[data]` section.

mod config;
mod dataset;
mod error;
mod loader;

pub use config::{DataConfig, DataContext, DataSplits, Task};
pub use dataset::{Dataset, Sample, Target, TargetKind, Targets, TensorDataset};
pub use error::DataError;
pub use loader::{Batch, DataLoader, EpochBatches, LoaderConfig};

/// Forces the linker to keep this crate's built-in [`DataConfig`] plugins (call once from a
/// binary that deserializes configs; `tuna::link_all` does).
pub fn link() {}
