//! The [`Dataset`] trait and [`TensorDataset`], the in-memory dataset every built-in reader
//! produces.

use std::borrow::Cow;
use std::fmt::Debug;

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
}

/// One sample's target.
#[derive(Clone, Debug, PartialEq)]
pub enum Target<'a> {
    /// A class index.
    Class(usize),
    /// Regression values.
    Values(Cow<'a, [f32]>),
}

/// One sample: its features (row-major, [`Dataset::feature_shape`]) and its target.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample<'a> {
    /// The features, flattened row-major.
    pub features: Cow<'a, [f32]>,
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

    /// The shape of one sample's features (`[1, 28, 28]` for MNIST, `[4]` for iris).
    fn feature_shape(&self) -> &[usize];

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

    /// A new dataset holding the samples at `indices`, in that order (copies them).
    pub fn select(&self, indices: &[usize]) -> TensorDataset {
        let per: usize = self.feature_shape.iter().product();
        let mut features = Vec::with_capacity(per * indices.len());
        for &i in indices {
            features.extend_from_slice(&self.features[i * per..(i + 1) * per]);
        }
        let targets = match &self.targets {
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
        };
        TensorDataset {
            features,
            feature_shape: self.feature_shape.clone(),
            targets,
        }
    }
}

impl Dataset for TensorDataset {
    fn len(&self) -> usize {
        match &self.targets {
            Targets::Class { labels, .. } => labels.len(),
            Targets::Values { values, outputs } => values.len() / outputs,
        }
    }

    fn feature_shape(&self) -> &[usize] {
        &self.feature_shape
    }

    fn target_kind(&self) -> TargetKind {
        match &self.targets {
            Targets::Class { num_classes, .. } => TargetKind::Class {
                num_classes: *num_classes,
            },
            Targets::Values { outputs, .. } => TargetKind::Values { outputs: *outputs },
        }
    }

    fn get(&self, index: usize) -> Sample<'_> {
        let per: usize = self.feature_shape.iter().product();
        let features = Cow::Borrowed(&self.features[index * per..(index + 1) * per]);
        let target = match &self.targets {
            Targets::Class { labels, .. } => Target::Class(labels[index]),
            Targets::Values { values, outputs } => Target::Values(Cow::Borrowed(
                &values[index * outputs..(index + 1) * outputs],
            )),
        };
        Sample { features, target }
    }
}
