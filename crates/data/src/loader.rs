//! [`DataLoader`]: seeded shuffling and batching (`torch.utils.data.DataLoader`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tuna_tensor::{Generator, Tensor};

use crate::dataset::{Dataset, Target, TargetKind};
use crate::error::DataError;

/// The `[loader]` section of an experiment file (PyTorch `DataLoader` arguments and defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoaderConfig {
    /// Samples per training batch (PyTorch default 1).
    #[serde(default = "one")]
    pub batch_size: usize,
    /// Reshuffle the training set every epoch (PyTorch default `false`).
    #[serde(default)]
    pub shuffle: bool,
    /// Drop the last, incomplete training batch (PyTorch default `false`).
    #[serde(default)]
    pub drop_last: bool,
    /// Samples per batch when evaluating (validation, test, metrics); no gradient is kept
    /// then, so larger batches are cheaper. Default: `max(batch_size, 500)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_batch_size: Option<usize>,
}

fn one() -> usize {
    1
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            batch_size: 1,
            shuffle: false,
            drop_last: false,
            eval_batch_size: None,
        }
    }
}

impl LoaderConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`DataError::Config`] naming the field (`loader.batch_size: must be >= 1, got 0`).
    pub fn validate(&self) -> Result<(), DataError> {
        if self.batch_size == 0 {
            return Err(DataError::config(
                "loader.batch_size",
                "must be >= 1, got 0",
            ));
        }
        if self.eval_batch_size == Some(0) {
            return Err(DataError::config(
                "loader.eval_batch_size",
                "must be >= 1, got 0",
            ));
        }
        Ok(())
    }

    /// The evaluation batch size (see [`LoaderConfig::eval_batch_size`]).
    pub fn resolved_eval_batch_size(&self) -> usize {
        self.eval_batch_size.unwrap_or(self.batch_size.max(500))
    }
}

/// One batch: inputs `[batch, feature_shape...]` (f32) and targets (i64 `[batch]` class
/// indices, or f32 `[batch, outputs]`).
#[derive(Clone, Debug)]
pub struct Batch {
    /// The batch's features.
    pub inputs: Tensor,
    /// The batch's targets.
    pub targets: Tensor,
    /// The position of this batch within its epoch (0-based).
    pub index: usize,
}

impl Batch {
    /// The number of samples in the batch.
    pub fn len(&self) -> usize {
        self.inputs.shape()[0]
    }

    /// `true` for a batch without samples (never yielded by a [`DataLoader`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Batches a dataset, reshuffled every epoch from `(seed, epoch)` alone: the order of epoch
/// `e` does not depend on what was drawn before, so a resumed run sees exactly the batches
/// an uninterrupted one would.
#[derive(Clone, Debug)]
pub struct DataLoader {
    dataset: Arc<dyn Dataset>,
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
    seed: u64,
}

impl DataLoader {
    /// A loader over `dataset`.
    ///
    /// # Panics
    /// If `batch_size` is 0.
    pub fn new(
        dataset: Arc<dyn Dataset>,
        batch_size: usize,
        shuffle: bool,
        drop_last: bool,
        seed: u64,
    ) -> Self {
        assert!(batch_size > 0, "DataLoader: batch_size must be >= 1");
        DataLoader {
            dataset,
            batch_size,
            shuffle,
            drop_last,
            seed,
        }
    }

    /// The training loader described by `config`.
    pub fn train(dataset: Arc<dyn Dataset>, config: &LoaderConfig, seed: u64) -> Self {
        DataLoader::new(
            dataset,
            config.batch_size,
            config.shuffle,
            config.drop_last,
            seed,
        )
    }

    /// An evaluation loader (in order, nothing dropped, `eval_batch_size`).
    pub fn eval(dataset: Arc<dyn Dataset>, config: &LoaderConfig) -> Self {
        DataLoader::new(dataset, config.resolved_eval_batch_size(), false, false, 0)
    }

    /// The dataset.
    pub fn dataset(&self) -> &Arc<dyn Dataset> {
        &self.dataset
    }

    /// Samples per batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        let n = self.dataset.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// Samples per epoch (fewer than the dataset with `drop_last`).
    pub fn samples_per_epoch(&self) -> usize {
        if self.drop_last {
            self.batches_per_epoch() * self.batch_size
        } else {
            self.dataset.len()
        }
    }

    /// The sample order of `epoch`: a permutation drawn from `(seed, epoch)` when shuffling,
    /// `0..len` otherwise.
    pub fn order(&self, epoch: usize) -> Vec<usize> {
        let n = self.dataset.len();
        if self.shuffle {
            Generator::new(self.seed).split(epoch as u64).randperm(n)
        } else {
            (0..n).collect()
        }
    }

    /// The batches of `epoch`.
    pub fn epoch(&self, epoch: usize) -> EpochBatches<'_> {
        self.epoch_from(epoch, 0)
    }

    /// The batches of `epoch` starting at batch `start` (resuming mid-epoch).
    pub fn epoch_from(&self, epoch: usize, start: usize) -> EpochBatches<'_> {
        EpochBatches {
            loader: self,
            order: self.order(epoch),
            next: start,
            end: self.batches_per_epoch(),
        }
    }

    /// Gathers the samples at `indices` into one batch.
    pub fn collate(&self, indices: &[usize], index: usize) -> Batch {
        let ds = &*self.dataset;
        let shape = ds.feature_shape();
        let per: usize = shape.iter().product();
        let mut inputs = Vec::with_capacity(per * indices.len());
        let mut batch_shape = Vec::with_capacity(shape.len() + 1);
        batch_shape.push(indices.len());
        batch_shape.extend_from_slice(shape);
        let targets = match ds.target_kind() {
            TargetKind::Class { .. } => {
                let mut labels = Vec::with_capacity(indices.len());
                for &i in indices {
                    let s = ds.get(i);
                    inputs.extend_from_slice(&s.features);
                    match s.target {
                        Target::Class(c) => labels.push(c as i64),
                        Target::Values(_) => panic!("dataset mixes class and value targets"),
                    }
                }
                Tensor::from_vec(labels, &[indices.len()])
            }
            TargetKind::Values { outputs } => {
                let mut values = Vec::with_capacity(outputs * indices.len());
                for &i in indices {
                    let s = ds.get(i);
                    inputs.extend_from_slice(&s.features);
                    match s.target {
                        Target::Values(v) => values.extend_from_slice(&v),
                        Target::Class(_) => panic!("dataset mixes class and value targets"),
                    }
                }
                Tensor::from_vec(values, &[indices.len(), outputs])
            }
        };
        Batch {
            inputs: Tensor::from_vec(inputs, &batch_shape),
            targets,
            index,
        }
    }
}

/// The batches of one epoch (see [`DataLoader::epoch`]).
#[derive(Debug)]
pub struct EpochBatches<'a> {
    loader: &'a DataLoader,
    order: Vec<usize>,
    next: usize,
    end: usize,
}

impl Iterator for EpochBatches<'_> {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.next >= self.end {
            return None;
        }
        let b = self.loader.batch_size;
        let lo = self.next * b;
        let hi = (lo + b).min(self.order.len());
        let batch = self.loader.collate(&self.order[lo..hi], self.next);
        self.next += 1;
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.end.saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for EpochBatches<'_> {}
