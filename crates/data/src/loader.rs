//! [`DataLoader`]: seeded shuffling and batching (`torch.utils.data.DataLoader`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tuna_tensor::{Generator, Tensor};

use crate::dataset::{Dataset, Input, InputKind, Target, TargetKind, IGNORE_INDEX};
use crate::error::DataError;
use crate::workers::Batches;

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
    /// Samples per batch when evaluating (validation, test, metrics). Default: `batch_size`
    /// (Keras' `validation_batch_size`): on a CPU a batch that stays in the caches is
    /// fastest, and larger ones cost attention and recurrent models most (a Transformer's
    /// scores grow with batch × length²; see the Performance chapter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_batch_size: Option<usize>,
    /// Token data only: group samples of similar length into the same batch, so batches
    /// carry little padding (torchtext's `BucketIterator`). Each epoch's shuffled order is
    /// cut into pools of 50 batches, each pool is sorted by length and cut into batches, and
    /// the batches are shuffled: still a pure function of `(seed, epoch)`. Evaluation
    /// batches are sorted by length the same way (not shuffled), so validation and test
    /// passes carry little padding too. Default `false`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub bucket_by_length: bool,
    /// Worker threads that read, decode and transform batches ahead of the training loop
    /// (PyTorch's `num_workers`; threads rather than processes). `0` (the default) loads on
    /// the training thread. The workers run no tensor kernels, so a run uses at most
    /// `train.threads` compute threads plus these; they sleep while `prefetch_factor` batches
    /// each are waiting.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_workers: usize,
    /// Batches each worker loads ahead (PyTorch's `prefetch_factor`; default 2 with
    /// workers; only with `num_workers > 0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefetch_factor: Option<usize>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !b
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
            bucket_by_length: false,
            num_workers: 0,
            prefetch_factor: None,
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
        match self.prefetch_factor {
            Some(0) => Err(DataError::config(
                "loader.prefetch_factor",
                "must be >= 1, got 0",
            )),
            Some(_) if self.num_workers == 0 => Err(DataError::config(
                "loader.prefetch_factor",
                "only applies with loader.num_workers > 0 (as in PyTorch)",
            )),
            _ => Ok(()),
        }
    }

    /// Batches each worker keeps ready (`prefetch_factor`, default 2).
    pub fn resolved_prefetch_factor(&self) -> usize {
        self.prefetch_factor.unwrap_or(2)
    }

    /// The evaluation batch size (see [`LoaderConfig::eval_batch_size`]).
    pub fn resolved_eval_batch_size(&self) -> usize {
        self.eval_batch_size.unwrap_or(self.batch_size)
    }
}

/// One batch: inputs (f32 `[batch, feature_shape...]`, or i64 token ids `[batch, longest]`
/// padded at the end), their lengths for token data, and targets (i64 `[batch]` class indices,
/// f32 `[batch, outputs]` values, or i64 `[batch, longest]` next-token ids padded with
/// [`IGNORE_INDEX`]).
#[derive(Clone, Debug)]
pub struct Batch {
    /// The batch's inputs.
    pub inputs: Tensor,
    /// The real length of each sample when the inputs are padded token ids (`None` for dense
    /// inputs).
    pub lengths: Option<Vec<usize>>,
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
    bucket_by_length: bool,
    seed: u64,
    num_workers: usize,
    prefetch_factor: usize,
}

/// Batches per pool when bucketing by length.
const BUCKET_POOL_BATCHES: usize = 50;

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
            bucket_by_length: false,
            seed,
            num_workers: 0,
            prefetch_factor: 2,
        }
    }

    /// The same loader with `workers` threads loading `prefetch_factor` batches each ahead
    /// (see [`LoaderConfig::num_workers`]).
    pub fn with_workers(mut self, workers: usize, prefetch_factor: usize) -> Self {
        self.num_workers = workers;
        self.prefetch_factor = prefetch_factor.max(1);
        self
    }

    /// Worker threads (0: loading on the caller's thread).
    pub fn num_workers(&self) -> usize {
        self.num_workers
    }

    /// The training loader described by `config`.
    pub fn train(dataset: Arc<dyn Dataset>, config: &LoaderConfig, seed: u64) -> Self {
        let mut loader = DataLoader::new(
            dataset,
            config.batch_size,
            config.shuffle,
            config.drop_last,
            seed,
        );
        loader.bucket_by_length = config.bucket_by_length;
        loader.with_workers(config.num_workers, config.resolved_prefetch_factor())
    }

    /// An evaluation loader (in order, nothing dropped, `eval_batch_size`, the config's
    /// workers).
    pub fn eval(dataset: Arc<dyn Dataset>, config: &LoaderConfig) -> Self {
        let mut loader =
            DataLoader::new(dataset, config.resolved_eval_batch_size(), false, false, 0)
                .with_workers(config.num_workers, config.resolved_prefetch_factor());
        loader.bucket_by_length = config.bucket_by_length;
        loader
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

    /// The sample indices of every batch of `epoch`, in batch order.
    pub fn batch_indices(&self, epoch: usize) -> Vec<Vec<usize>> {
        let order = self.order(epoch);
        let tokens = matches!(self.dataset.input_kind(), InputKind::Tokens { .. });
        let mut batches: Vec<Vec<usize>> = if self.bucket_by_length && tokens {
            self.bucketed(&order, epoch)
        } else {
            order
                .chunks(self.batch_size)
                .map(<[usize]>::to_vec)
                .collect()
        };
        batches.truncate(self.batches_per_epoch());
        batches
    }

    /// Length-bucketed batches: pools of [`BUCKET_POOL_BATCHES`] batches sorted by length,
    /// full batches first, then the batch order shuffled from `(seed, epoch)`.
    fn bucketed(&self, order: &[usize], epoch: usize) -> Vec<Vec<usize>> {
        let len = |i: usize| match self.dataset.get(i).input {
            Input::Tokens(t) => t.len(),
            Input::Dense(_) => 0,
        };
        let mut full = Vec::new();
        let mut rest = Vec::new();
        for pool in order.chunks(self.batch_size * BUCKET_POOL_BATCHES) {
            let mut pool: Vec<(usize, usize)> = pool.iter().map(|&i| (len(i), i)).collect();
            pool.sort_by_key(|&(l, _)| l);
            for chunk in pool.chunks(self.batch_size) {
                let b: Vec<usize> = chunk.iter().map(|&(_, i)| i).collect();
                if b.len() == self.batch_size {
                    full.push(b);
                } else {
                    rest.push(b);
                }
            }
        }
        if self.shuffle {
            let perm = Generator::new(self.seed)
                .split(epoch as u64 ^ 0x4255_434b)
                .randperm(full.len());
            full = perm.into_iter().map(|p| full[p].clone()).collect();
        }
        full.extend(rest);
        full
    }

    /// The batches of `epoch`.
    ///
    /// # Panics
    /// When iterated, if a sample cannot be read (a lazily decoded image file); use
    /// [`DataLoader::try_epoch_from`] to get the error instead.
    pub fn epoch(&self, epoch: usize) -> EpochBatches<'_> {
        self.epoch_from(epoch, 0)
    }

    /// The batches of `epoch` starting at batch `start` (resuming mid-epoch).
    ///
    /// # Panics
    /// As [`DataLoader::epoch`].
    pub fn epoch_from(&self, epoch: usize, start: usize) -> EpochBatches<'_> {
        EpochBatches {
            inner: self.try_epoch_from(epoch, start),
            _loader: std::marker::PhantomData,
        }
    }

    /// The batches of `epoch` from batch `start`, each a `Result`: loaded on this thread, or
    /// with [`DataLoader::with_workers`] by worker threads ahead of the caller (in order).
    pub fn try_epoch_from(&self, epoch: usize, start: usize) -> Batches {
        let batches = self.batch_indices(epoch);
        if self.num_workers == 0 {
            return Batches::serial(self.dataset.clone(), batches, epoch, start);
        }
        Batches::parallel(
            self.dataset.clone(),
            batches,
            epoch,
            start,
            self.num_workers,
            self.prefetch_factor,
        )
    }

    /// Gathers the samples at `indices` into one batch.
    ///
    /// # Panics
    /// If the dataset's samples do not match its declared input and target kinds.
    pub fn collate(&self, indices: &[usize], index: usize) -> Batch {
        collate(&*self.dataset, indices, index)
    }
}

/// Gathers the samples at `indices` of `ds` as epoch `epoch` sees them
/// ([`Dataset::fetch`]) into batch `index`, then applies the dataset's batch transforms.
///
/// # Errors
/// A sample that cannot be read.
///
/// # Panics
/// If a sample does not match the dataset's declared input and target kinds.
pub fn collate_epoch(
    ds: &dyn Dataset,
    indices: &[usize],
    index: usize,
    epoch: usize,
) -> Result<Batch, DataError> {
    let samples = indices
        .iter()
        .map(|&i| ds.fetch(i, epoch))
        .collect::<Result<Vec<_>, _>>()?;
    let mut batch = collate_samples(ds, &samples, index);
    ds.transform_batch(&mut batch, epoch);
    Ok(batch)
}

/// Gathers the samples at `indices` of `ds` into one batch (see [`Batch`]).
///
/// # Panics
/// If a sample does not match the dataset's declared input and target kinds.
pub fn collate(ds: &dyn Dataset, indices: &[usize], index: usize) -> Batch {
    let samples: Vec<_> = indices.iter().map(|&i| ds.get(i)).collect();
    collate_samples(ds, &samples, index)
}

fn collate_samples(
    ds: &dyn Dataset,
    samples: &[crate::dataset::Sample<'_>],
    index: usize,
) -> Batch {
    let (inputs, lengths) = collate_inputs(&ds.input_kind(), samples);
    let longest = lengths
        .as_ref()
        .map_or(0, |l| l.iter().copied().max().unwrap_or(0));
    let targets = collate_targets(&ds.target_kind(), samples, longest);
    Batch {
        inputs,
        lengths,
        targets,
        index,
    }
}

fn collate_inputs(
    kind: &InputKind,
    samples: &[crate::dataset::Sample<'_>],
) -> (Tensor, Option<Vec<usize>>) {
    let n = samples.len();
    match kind {
        InputKind::Dense { shape } => {
            let per: usize = shape.iter().product();
            let mut data = Vec::with_capacity(per * n);
            for s in samples {
                data.extend_from_slice(s.input.as_dense());
            }
            let mut batch_shape = vec![n];
            batch_shape.extend_from_slice(shape);
            (Tensor::from_vec(data, &batch_shape), None)
        }
        InputKind::Tokens { pad_id, .. } => {
            let lengths: Vec<usize> = samples.iter().map(|s| s.input.as_tokens().len()).collect();
            let longest = lengths.iter().copied().max().unwrap_or(0);
            let mut data = vec![*pad_id; n * longest];
            for (row, s) in data.chunks_mut(longest.max(1)).zip(samples) {
                let t = s.input.as_tokens();
                row[..t.len()].copy_from_slice(t);
            }
            (Tensor::from_vec(data, &[n, longest]), Some(lengths))
        }
    }
}

fn collate_targets(
    kind: &TargetKind,
    samples: &[crate::dataset::Sample<'_>],
    longest: usize,
) -> Tensor {
    let n = samples.len();
    let mismatch = || -> ! { panic!("dataset sample does not match its target kind {kind:?}") };
    match kind {
        TargetKind::Class { .. } => {
            let labels: Vec<i64> = samples
                .iter()
                .map(|s| match s.target {
                    Target::Class(c) => c as i64,
                    _ => mismatch(),
                })
                .collect();
            Tensor::from_vec(labels, &[n])
        }
        TargetKind::Values { outputs } => {
            let mut values = Vec::with_capacity(outputs * n);
            for s in samples {
                match &s.target {
                    Target::Values(v) => values.extend_from_slice(v),
                    _ => mismatch(),
                }
            }
            Tensor::from_vec(values, &[n, *outputs])
        }
        TargetKind::Tokens { .. } => {
            let mut data = vec![IGNORE_INDEX; n * longest];
            for (row, s) in data.chunks_mut(longest.max(1)).zip(samples) {
                match &s.target {
                    Target::Tokens(t) => row[..t.len()].copy_from_slice(t),
                    _ => mismatch(),
                }
            }
            Tensor::from_vec(data, &[n, longest])
        }
    }
}

/// The batches of one epoch (see [`DataLoader::epoch`]).
#[derive(Debug)]
pub struct EpochBatches<'a> {
    inner: Batches,
    _loader: std::marker::PhantomData<&'a DataLoader>,
}

impl Iterator for EpochBatches<'_> {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        self.inner
            .next()
            .map(|r| r.unwrap_or_else(|e| panic!("DataLoader: {e}")))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for EpochBatches<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Targets, TokenDataset, TokenTargets};

    fn tokens(n: usize) -> Arc<dyn Dataset> {
        let seqs: Vec<Vec<i64>> = (0..n).map(|i| vec![1; 1 + i % 7]).collect();
        let labels = (0..n).map(|i| i % 2).collect();
        Arc::new(TokenDataset::new(
            seqs,
            3,
            7,
            0,
            TokenTargets::PerSequence(Targets::Class {
                labels,
                num_classes: 2,
            }),
        ))
    }

    #[test]
    fn pads_tokens_and_carries_lengths() {
        let loader = DataLoader::new(tokens(5), 3, false, false, 0);
        let b: Vec<Batch> = loader.epoch(0).collect();
        assert_eq!(b[0].inputs.shape(), &[3, 3]);
        assert_eq!(b[0].inputs.to_vec::<i64>(), vec![1, 0, 0, 1, 1, 0, 1, 1, 1]);
        assert_eq!(b[0].lengths.as_deref(), Some(&[1, 2, 3][..]));
        assert_eq!(b[1].inputs.shape(), &[2, 5]);
    }

    #[test]
    fn next_token_targets_are_padded_with_ignore_index() {
        let ds = Arc::new(TokenDataset::new(
            vec![vec![1, 2, 3], vec![1, 2]],
            4,
            2,
            0,
            TokenTargets::NextToken,
        ));
        let b = DataLoader::new(ds, 2, false, false, 0).collate(&[0, 1], 0);
        assert_eq!(b.inputs.to_vec::<i64>(), vec![1, 2, 1, 0]);
        assert_eq!(b.targets.to_vec::<i64>(), vec![2, 3, 2, IGNORE_INDEX]);
    }

    #[test]
    fn bucketing_is_a_pure_function_of_seed_and_epoch_and_covers_every_sample() {
        let cfg = LoaderConfig {
            batch_size: 4,
            shuffle: true,
            bucket_by_length: true,
            ..LoaderConfig::default()
        };
        let loader = DataLoader::train(tokens(300), &cfg, 7);
        let a = loader.batch_indices(3);
        assert_eq!(a, loader.batch_indices(3));
        assert_ne!(a, loader.batch_indices(4));
        let mut all: Vec<usize> = a.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..300).collect::<Vec<_>>());
        // a bucketed batch holds sequences of (nearly) one length: padding stays small
        let b = loader.collate(&a[0], 0);
        let l = b.lengths.unwrap();
        assert!(
            l.iter().max().unwrap() - l.iter().min().unwrap() <= 1,
            "{l:?}"
        );
    }

    #[test]
    fn evaluation_batches_are_sorted_by_length_when_training_buckets() {
        let padding = |bucket: bool| {
            let cfg = LoaderConfig {
                batch_size: 4,
                eval_batch_size: Some(16),
                bucket_by_length: bucket,
                ..LoaderConfig::default()
            };
            let loader = DataLoader::eval(tokens(300), &cfg);
            let batches = loader.batch_indices(0);
            assert_eq!(batches, loader.batch_indices(5), "no shuffling");
            let mut all: Vec<usize> = batches.iter().flatten().copied().collect();
            all.sort_unstable();
            assert_eq!(all, (0..300).collect::<Vec<_>>());
            batches
                .iter()
                .map(|b| {
                    let l = loader.collate(b, 0).lengths.unwrap();
                    l.iter()
                        .map(|&x| l.iter().max().unwrap() - x)
                        .sum::<usize>()
                })
                .sum::<usize>()
        };
        let (sorted, plain) = (padding(true), padding(false));
        assert!(sorted * 5 < plain, "padding {sorted} vs {plain}");
    }
}
