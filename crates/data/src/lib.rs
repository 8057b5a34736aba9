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
mod csv;
mod dataset;
mod error;
mod loader;
mod mnist;
mod normalize;
mod split;

pub use config::{DataConfig, DataContext, DataSplits, Task};
pub use csv::{parse_csv, read_csv, Column, Csv, CsvRecord, CsvTask};
pub use dataset::{Dataset, Sample, Target, TargetKind, Targets, TensorDataset};
pub use error::DataError;
pub use loader::{Batch, DataLoader, EpochBatches, LoaderConfig};
pub use mnist::{
    find_idx_file, read_idx_images, read_idx_labels, read_mnist, IdxImages, Mnist,
    IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, MNIST_FILES,
};
pub use normalize::{Standardizer, MNIST_MEAN, MNIST_STD};
pub use split::{check_fraction, random_split, stratified_split, SplitIndices};

/// Forces the linker to keep this crate's built-in [`DataConfig`] plugins (call once from a
/// binary that deserializes configs; `tuna::link_all` does).
pub fn link() {}
