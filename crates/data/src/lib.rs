//! # tuna-data
//!
//! Tuna's data pipeline: the [`Dataset`] trait over samples of any modality (fixed-shape f32
//! features, or token-id sequences of their own length), the in-memory [`TensorDataset`] and
//! [`TokenDataset`], a seeded shuffling [`DataLoader`] that batches samples straight into one
//! tensor per batch (padding token sequences to the longest of the batch and carrying their
//! lengths), readers for MNIST IDX files, CSV tables (categorical columns, missing values) and
//! text (tokenizers with a vocabulary fitted on the training split), seeded (optionally
//! stratified) train/validation/test splits, and preprocessing fitted on the training split
//! only, recorded so that a run reuses it for evaluation and prediction.
//!
//! Data sources are `typetag` plugins ([`DataConfig`]): `type = "Mnist"` ([`Mnist`]),
//! `type = "Csv"` ([`Csv`]) and `type = "Text"` ([`Text`]) are built in, and a user crate can
//! register its own, usable by name from an experiment file's `[data]` section. Tokenizers are
//! plugins too ([`TokenizerConfig`]: `Char`, `Word`, and with the `tokenizers` feature `Bpe`
//! and `HuggingFace`).
//!
//! ```
//! use tuna_data::{DataConfig, DataContext, DataLoader, LoaderConfig, Task};
//!
//! // the [data] and [loader] sections of an experiment file
//! let data: Box<dyn DataConfig> = toml::from_str(
//!     r#"
//!     type = "Csv"
//!     path = "datasets/iris/iris.csv"
//!     header = false
//!     skip_rows = 1          # the line "150,4,setosa,versicolor,virginica"
//!     label = -1             # the last column
//!     class_names = ["setosa", "versicolor", "virginica"]
//!     validation = 0.2       # stratified by default
//!     "#,
//! )
//! .unwrap();
//! let loader: LoaderConfig = toml::from_str("batch_size = 16\nshuffle = true").unwrap();
//! data.validate().unwrap();
//! loader.validate().unwrap();
//!
//! // relative paths are looked up in the context's folders; the seed fixes the split
//! let ctx = DataContext::new(0);
//! # let ctx = DataContext { base_dirs: vec![concat!(env!("CARGO_MANIFEST_DIR"), "/../..").into()], seed: 0, fitted: None };
//! let splits = data.load(&ctx).unwrap();
//! assert_eq!(splits.train.len(), 120);
//! assert_eq!(splits.validation.as_ref().unwrap().len(), 30);
//! assert!(matches!(splits.task, Task::Classification { num_classes: 3, .. }));
//!
//! // epoch e's order depends on (seed, e) only, so a resumed run sees the same batches
//! let train = DataLoader::train(splits.train.clone(), &loader, 0);
//! let batches: Vec<_> = train.epoch(0).collect();
//! assert_eq!(batches.len(), 8);
//! assert_eq!(batches[0].inputs.shape(), &[16, 4]); // standardized features, f32
//! assert_eq!(batches[0].targets.shape(), &[16]); // class indices, i64
//! let resumed: Vec<_> = train.epoch_from(0, 5).collect();
//! assert_eq!(resumed[0].inputs, batches[5].inputs);
//! ```

mod config;
mod csv;
mod dataset;
mod error;
mod files;
pub mod image;
mod labels;
mod loader;
mod mnist;
mod normalize;
mod split;
mod text;
pub mod transform;
mod workers;

pub use config::{
    split_seed, DataConfig, DataContext, DataSplits, PredictRow, PredictRows, TargetScale, Task,
    TextCodec,
};
pub use csv::{
    csv_preprocessing, parse_csv, read_csv, CategoricalEncoding, Column, Csv, CsvPreprocessing,
    CsvReader, CsvRecord, CsvTarget, CsvTask, FittedColumn, IdColumn, Impute, NotANumber, Table,
    DEFAULT_NA_VALUES,
};
pub use dataset::{
    Dataset, Input, InputKind, Sample, Target, TargetKind, Targets, TensorDataset, TokenDataset,
    TokenTargets, IGNORE_INDEX,
};
pub use error::DataError;
pub use files::{open_maybe_gz, read_maybe_gz, read_text};
#[cfg(feature = "images")]
pub use image::ImageFolder;
pub use image::{Cifar10, Cifar100, ImageDataset};
pub use labels::{check_two_classes, class_labels, integer_label, LabelCell};
pub use loader::{collate, collate_epoch, Batch, DataLoader, EpochBatches, LoaderConfig};
pub use mnist::{
    find_idx_file, read_idx_images, read_idx_labels, read_mnist, IdxImages, Mnist,
    MnistPreprocessing, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, MNIST_FILES,
};
pub use normalize::{Standardizer, MNIST_MEAN, MNIST_STD};
pub use split::{
    check_fraction, check_holdouts, random_split, stratified_split, Holdout, SplitIndices,
};
pub use text::{
    records, CharTokenizer, Fields, FittedTokenizer, Text, TextFields, TextFormat,
    TextPreprocessing, TextRecord, TextTask, TokenizerConfig, WordTokenizer, BOS, EOS, PAD, UNK,
};
#[cfg(feature = "tokenizers")]
pub use text::{BpeTokenizer, HuggingFaceTokenizer};
pub use workers::Batches;

/// Forces the linker to keep this crate's built-in [`DataConfig`] plugins (call once from a
/// binary that deserializes configs; `tuna::link_all` does).
pub fn link() {}
