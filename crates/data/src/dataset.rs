//! The [`Dataset`] trait, what a sample holds ([`Input`], [`Target`]), and the two in-memory
//! datasets every built-in reader produces: [`TensorDataset`] (fixed-shape f32 features) and
//! [`TokenDataset`] (variable-length token-id sequences).
//!
//! One design for every modality: a sample carries its input (dense f32 features of one shape,
//! or i64 token ids of its own length) and its target (a class, regression values, or — for a
//! language model — the next-token ids); the [`DataLoader`](crate::DataLoader) batches them,
//! padding token sequences to the longest sample of the batch and carrying their lengths.

use std::borrow::Cow;
use std::fmt::Debug;

/// What a dataset's inputs are (decides the batch dtype and what the model's first layer must
/// take).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// Fixed-shape f32 features (`[4]` for iris, `[1, 28, 28]` for MNIST); batched as an f32
    /// tensor `[batch, shape...]`.
    Dense {
        /// The shape of one sample's features.
        shape: Vec<usize>,
    },
    /// Token ids in `0..vocab_size`, one sequence per sample of length `1..=max_len`; batched
    /// as an i64 tensor `[batch, longest]` padded with `pad_id`, with the lengths.
    Tokens {
        /// The number of distinct ids (the vocabulary size, padding and unknown included).
        vocab_size: usize,
        /// The longest a sequence can be (after truncation).
        max_len: usize,
        /// The id that pads short sequences in a batch.
        pad_id: i64,
    },
}

impl InputKind {
    /// The shape a model sees for one sample: the feature shape, or `[max_len]` for tokens.
    pub fn sample_shape(&self) -> Vec<usize> {
        match self {
            InputKind::Dense { shape } => shape.clone(),
            InputKind::Tokens { max_len, .. } => vec![*max_len],
        }
    }

    /// The number of f32 values of a dense sample (`None` for tokens).
    pub fn dense_len(&self) -> Option<usize> {
        match self {
            InputKind::Dense { shape } => Some(shape.iter().product()),
            InputKind::Tokens { .. } => None,
        }
    }
}

/// What a dataset's targets are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// One class index in `0..num_classes` per sample; batched as an i64 tensor `[batch]`.
    Class {
        /// The number of classes.
        num_classes: usize,
    },
    /// `outputs` real values per sample (regression); batched as an f32 tensor
    /// `[batch, outputs]`.
    Values {
        /// Values per sample.
        outputs: usize,
    },
    /// One token id per input position (a language model's next tokens); batched as an i64
    /// tensor `[batch, longest]` padded with [`IGNORE_INDEX`] (PyTorch's `ignore_index`).
    Tokens {
        /// The number of distinct ids.
        vocab_size: usize,
    },
}

/// The target id of padded positions in a batch of token targets: `-100`, the default
/// `ignore_index` of PyTorch's `CrossEntropyLoss` and `NLLLoss`.
pub const IGNORE_INDEX: i64 = -100;

/// One sample's input.
#[derive(Clone, Debug, PartialEq)]
pub enum Input<'a> {
    /// Dense features, flattened row-major in the dataset's [`InputKind::Dense`] shape.
    Dense(Cow<'a, [f32]>),
    /// Token ids.
    Tokens(Cow<'a, [i64]>),
}

impl Input<'_> {
    /// The dense features.
    ///
    /// # Panics
    /// If the input is token ids.
    pub fn as_dense(&self) -> &[f32] {
        match self {
            Input::Dense(v) => v,
            Input::Tokens(_) => panic!("Input::as_dense: the sample holds token ids"),
        }
    }

    /// The token ids.
    ///
    /// # Panics
    /// If the input is dense features.
    pub fn as_tokens(&self) -> &[i64] {
        match self {
            Input::Tokens(v) => v,
            Input::Dense(_) => panic!("Input::as_tokens: the sample holds dense features"),
        }
    }
}

/// One sample's target.
#[derive(Clone, Debug, PartialEq)]
pub enum Target<'a> {
    /// A class index.
    Class(usize),
    /// Regression values.
    Values(Cow<'a, [f32]>),
    /// One target id per input token (language modelling).
    Tokens(Cow<'a, [i64]>),
}

/// One sample: its input and its target.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample<'a> {
    /// The input.
    pub input: Input<'a>,
    /// The target.
    pub target: Target<'a>,
}

/// A finite, indexable collection of samples (`torch.utils.data.Dataset` with `__len__`).
///
/// In-memory datasets return borrowed samples, so the [`DataLoader`](crate::DataLoader) copies
/// each sample once, straight into the batch tensor.
pub trait Dataset: Debug + Send + Sync {
    /// The number of samples.
    fn len(&self) -> usize;

    /// `true` when the dataset holds no sample.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the inputs are.
    fn input_kind(&self) -> InputKind;

    /// What the targets are.
    fn target_kind(&self) -> TargetKind;

    /// Sample `index`. Panics if `index >= len()`.
    fn get(&self, index: usize) -> Sample<'_>;
}

/// Targets stored by a [`TensorDataset`].
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// Class indices with the number of classes.
    Class {
        /// One index per sample.
        labels: Vec<usize>,
        /// The number of classes (every label is below it).
        num_classes: usize,
    },
    /// Regression values, `outputs` per sample, row-major.
    Values {
        /// `len * outputs` values.
        values: Vec<f32>,
        /// Values per sample.
        outputs: usize,
    },
}

impl Targets {
    fn len(&self) -> usize {
        match self {
            Targets::Class { labels, .. } => labels.len(),
            Targets::Values { values, outputs } => values.len() / outputs,
        }
    }

    fn kind(&self) -> TargetKind {
        match self {
            Targets::Class { num_classes, .. } => TargetKind::Class {
                num_classes: *num_classes,
            },
            Targets::Values { outputs, .. } => TargetKind::Values { outputs: *outputs },
        }
    }

    fn get(&self, index: usize) -> Target<'_> {
        match self {
            Targets::Class { labels, .. } => Target::Class(labels[index]),
            Targets::Values { values, outputs } => Target::Values(Cow::Borrowed(
                &values[index * outputs..(index + 1) * outputs],
            )),
        }
    }

    /// The targets at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Targets {
        match self {
            Targets::Class {
                labels,
                num_classes,
            } => Targets::Class {
                labels: indices.iter().map(|&i| labels[i]).collect(),
                num_classes: *num_classes,
            },
            Targets::Values { values, outputs } => {
                let mut v = Vec::with_capacity(outputs * indices.len());
                for &i in indices {
                    v.extend_from_slice(&values[i * outputs..(i + 1) * outputs]);
                }
                Targets::Values {
                    values: v,
                    outputs: *outputs,
                }
            }
        }
    }

    /// The class labels, if these are class targets.
    pub fn labels(&self) -> Option<&[usize]> {
        match self {
            Targets::Class { labels, .. } => Some(labels),
            Targets::Values { .. } => None,
        }
    }
}

/// An in-memory dataset: features in one contiguous `f32` buffer and their targets
/// (`torch.utils.data.TensorDataset`).
#[derive(Clone, Debug, PartialEq)]
pub struct TensorDataset {
    features: Vec<f32>,
    feature_shape: Vec<usize>,
    targets: Targets,
}

impl TensorDataset {
    /// A classification dataset: `features` holds `labels.len()` samples of `feature_shape`.
    ///
    /// # Panics
    /// If the buffer length does not match, or a label is `>= num_classes`.
    pub fn classification(
        features: Vec<f32>,
        feature_shape: &[usize],
        labels: Vec<usize>,
        num_classes: usize,
    ) -> Self {
        let per: usize = feature_shape.iter().product();
        assert_eq!(
            features.len(),
            per * labels.len(),
            "TensorDataset: {} feature values for {} samples of shape {:?}",
            features.len(),
            labels.len(),
            feature_shape
        );
        if let Some(&bad) = labels.iter().find(|&&l| l >= num_classes) {
            panic!("TensorDataset: label {bad} out of range for {num_classes} classes");
        }
        TensorDataset {
            features,
            feature_shape: feature_shape.to_vec(),
            targets: Targets::Class {
                labels,
                num_classes,
            },
        }
    }

    /// A regression dataset: `values` holds `outputs` targets per sample.
    ///
    /// # Panics
    /// If the buffer lengths do not match.
    pub fn regression(
        features: Vec<f32>,
        feature_shape: &[usize],
        values: Vec<f32>,
        outputs: usize,
    ) -> Self {
        let per: usize = feature_shape.iter().product();
        assert!(outputs > 0, "TensorDataset: regression needs outputs > 0");
        let n = values.len() / outputs;
        assert_eq!(
            values.len(),
            n * outputs,
            "TensorDataset: {} target values is not a multiple of {outputs} outputs",
            values.len()
        );
        assert_eq!(
            features.len(),
            per * n,
            "TensorDataset: {} feature values for {n} samples of shape {feature_shape:?}",
            features.len()
        );
        TensorDataset {
            features,
            feature_shape: feature_shape.to_vec(),
            targets: Targets::Values { values, outputs },
        }
    }

    /// The shape of one sample's features.
    pub fn feature_shape(&self) -> &[usize] {
        &self.feature_shape
    }

    /// All features, row-major `[len, feature_shape...]`.
    pub fn features(&self) -> &[f32] {
        &self.features
    }

    /// Mutable features (normalization rewrites them in place).
    pub fn features_mut(&mut self) -> &mut [f32] {
        &mut self.features
    }

    /// The targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// Mutable targets (target standardization rewrites regression values in place).
    pub fn targets_mut(&mut self) -> &mut Targets {
        &mut self.targets
    }

    /// A new dataset holding the samples at `indices`, in that order (copies them).
    pub fn select(&self, indices: &[usize]) -> TensorDataset {
        let per: usize = self.feature_shape.iter().product();
        let mut features = Vec::with_capacity(per * indices.len());
        for &i in indices {
            features.extend_from_slice(&self.features[i * per..(i + 1) * per]);
        }
        TensorDataset {
            features,
            feature_shape: self.feature_shape.clone(),
            targets: self.targets.select(indices),
        }
    }
}

impl Dataset for TensorDataset {
    fn len(&self) -> usize {
        self.targets.len()
    }

    fn input_kind(&self) -> InputKind {
        InputKind::Dense {
            shape: self.feature_shape.clone(),
        }
    }

    fn target_kind(&self) -> TargetKind {
        self.targets.kind()
    }

    fn get(&self, index: usize) -> Sample<'_> {
        let per: usize = self.feature_shape.iter().product();
        Sample {
            input: Input::Dense(Cow::Borrowed(
                &self.features[index * per..(index + 1) * per],
            )),
            target: self.targets.get(index),
        }
    }
}

/// Targets stored by a [`TokenDataset`].
#[derive(Clone, Debug, PartialEq)]
pub enum TokenTargets {
    /// One class (or regression values) per sequence.
    PerSequence(Targets),
    /// Next-token language modelling: sample `i`'s input is `ids[..len-1]` and its target
    /// `ids[1..]` of the stored sequence.
    NextToken,
}

/// An in-memory dataset of token-id sequences of different lengths, all in one buffer with
/// offsets, and their targets (a class per sequence, or the next tokens for a language model).
#[derive(Clone, Debug, PartialEq)]
pub struct TokenDataset {
    ids: Vec<i64>,
    offsets: Vec<usize>,
    vocab_size: usize,
    max_len: usize,
    pad_id: i64,
    targets: TokenTargets,
}

impl TokenDataset {
    /// A dataset of `sequences` (each one sample) with per-sequence `targets`, or with
    /// [`TokenTargets::NextToken`] for language modelling (then every sequence needs at least
    /// two ids: the input is all but the last, the target all but the first).
    ///
    /// `max_len` is the longest input a batch may hold (sequences must already be truncated).
    ///
    /// # Panics
    /// If the number of targets differs from the number of sequences, an id is outside
    /// `0..vocab_size`, a sequence is empty (or shorter than 2 for next-token targets) or
    /// longer than allowed.
    pub fn new(
        sequences: Vec<Vec<i64>>,
        vocab_size: usize,
        max_len: usize,
        pad_id: i64,
        targets: TokenTargets,
    ) -> Self {
        let min = match &targets {
            TokenTargets::PerSequence(t) => {
                assert_eq!(
                    t.len(),
                    sequences.len(),
                    "TokenDataset: {} targets for {} sequences",
                    t.len(),
                    sequences.len()
                );
                1
            }
            TokenTargets::NextToken => 2,
        };
        let extra = usize::from(targets == TokenTargets::NextToken);
        let mut ids = Vec::with_capacity(sequences.iter().map(Vec::len).sum());
        let mut offsets = Vec::with_capacity(sequences.len() + 1);
        offsets.push(0);
        for (i, s) in sequences.iter().enumerate() {
            assert!(
                s.len() >= min && s.len() <= max_len + extra,
                "TokenDataset: sequence {i} has {} ids, expected {min}..={}",
                s.len(),
                max_len + extra
            );
            if let Some(bad) = s.iter().find(|&&t| t < 0 || t as usize >= vocab_size) {
                panic!("TokenDataset: id {bad} of sequence {i} is outside 0..{vocab_size}");
            }
            ids.extend_from_slice(s);
            offsets.push(ids.len());
        }
        TokenDataset {
            ids,
            offsets,
            vocab_size,
            max_len,
            pad_id,
            targets,
        }
    }

    /// The stored ids of sequence `index` (for a language model: input and target together).
    pub fn sequence(&self, index: usize) -> &[i64] {
        &self.ids[self.offsets[index]..self.offsets[index + 1]]
    }

    /// The targets.
    pub fn targets(&self) -> &TokenTargets {
        &self.targets
    }

    /// The sequences at `indices`, in that order (copies them).
    pub fn select(&self, indices: &[usize]) -> TokenDataset {
        let sequences = indices.iter().map(|&i| self.sequence(i).to_vec()).collect();
        let targets = match &self.targets {
            TokenTargets::PerSequence(t) => TokenTargets::PerSequence(t.select(indices)),
            TokenTargets::NextToken => TokenTargets::NextToken,
        };
        TokenDataset::new(
            sequences,
            self.vocab_size,
            self.max_len,
            self.pad_id,
            targets,
        )
    }
}

impl Dataset for TokenDataset {
    fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    fn input_kind(&self) -> InputKind {
        InputKind::Tokens {
            vocab_size: self.vocab_size,
            max_len: self.max_len,
            pad_id: self.pad_id,
        }
    }

    fn target_kind(&self) -> TargetKind {
        match &self.targets {
            TokenTargets::PerSequence(t) => t.kind(),
            TokenTargets::NextToken => TargetKind::Tokens {
                vocab_size: self.vocab_size,
            },
        }
    }

    fn get(&self, index: usize) -> Sample<'_> {
        let seq = self.sequence(index);
        match &self.targets {
            TokenTargets::PerSequence(t) => Sample {
                input: Input::Tokens(Cow::Borrowed(seq)),
                target: t.get(index),
            },
            TokenTargets::NextToken => Sample {
                input: Input::Tokens(Cow::Borrowed(&seq[..seq.len() - 1])),
                target: Target::Tokens(Cow::Borrowed(&seq[1..])),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_dataset_per_sequence_and_next_token() {
        let t = Targets::Class {
            labels: vec![1, 0],
            num_classes: 2,
        };
        let ds = TokenDataset::new(
            vec![vec![2, 3, 4], vec![5]],
            6,
            3,
            0,
            TokenTargets::PerSequence(t),
        );
        assert_eq!(ds.len(), 2);
        assert_eq!(ds.get(1).input.as_tokens(), &[5]);
        assert_eq!(ds.get(0).target, Target::Class(1));
        let sub = ds.select(&[1]);
        assert_eq!(sub.get(0).target, Target::Class(0));

        let lm = TokenDataset::new(vec![vec![1, 2, 3, 4]], 5, 3, 0, TokenTargets::NextToken);
        let s = lm.get(0);
        assert_eq!(s.input.as_tokens(), &[1, 2, 3]);
        assert_eq!(s.target, Target::Tokens(Cow::Borrowed(&[2, 3, 4][..])));
        assert_eq!(lm.target_kind(), TargetKind::Tokens { vocab_size: 5 });
    }

    #[test]
    #[should_panic(expected = "outside 0..4")]
    fn token_ids_checked() {
        TokenDataset::new(
            vec![vec![4]],
            4,
            3,
            0,
            TokenTargets::PerSequence(Targets::Class {
                labels: vec![0],
                num_classes: 1,
            }),
        );
    }
}
