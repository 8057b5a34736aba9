//! What the image data plugins share: the seeded subset and validation split, the training
//! and evaluation transform lists, `Normalize` statistics fitted on the training split, and
//! the preprocessing record a run saves.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::dataset::{ImageDataset, ImageStore};
use crate::config::{split_seed, DataContext, DataSplits, Task};
use crate::dataset::Dataset;
use crate::error::DataError;
use crate::split::{check_fraction, random_split, split_generator, stratified_split};
use crate::transform::{ChannelStats, Pipeline, StatsAccumulator, Transform};

/// The stream of the split generator `train_subset` draws from (as `Mnist`).
const SUBSET_PURPOSE: u64 = 0x5355_4253;

/// What an image plugin records in a run's `preprocessing.json`: the input shape the model
/// takes (after the evaluation transforms), the class names, and the `Normalize` statistics
/// fitted on the training split (when a `Normalize` left out `mean` and `std`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagePreprocessing {
    /// The plugin (`"ImageFolder"`, `"Cifar10"`, `"Cifar100"`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The format of this record (1).
    pub version: u32,
    /// `[C, H, W]` of a model input.
    pub shape: Vec<usize>,
    /// The class names, index order.
    pub classes: Vec<String>,
    /// Per-channel statistics fitted on the training split, if a `Normalize` needed them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalize: Option<ChannelStats>,
}

/// The split settings an image plugin takes (its `validation`, `stratified`, `train_subset`
/// and `split_seed` fields).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImageSplitOptions {
    /// Fraction of the training images held out for validation.
    pub validation: f64,
    /// Stratify the validation split by class.
    pub stratified: bool,
    /// Train on this many training images only (a seeded choice).
    pub train_subset: Option<usize>,
    /// The split seed (default: the experiment's).
    pub split_seed: Option<u64>,
}

impl ImageSplitOptions {
    /// Checks the fields.
    ///
    /// # Errors
    /// [`DataError::Config`] naming `data.validation` or `data.train_subset`.
    pub fn validate(&self) -> Result<(), DataError> {
        check_fraction("data.validation", self.validation)?;
        if self.train_subset == Some(0) {
            return Err(DataError::config(
                "data.train_subset",
                "must be >= 1 (or left out to use every training image), got 0",
            ));
        }
        Ok(())
    }
}

/// The transform lists of an image plugin: `train_transforms` for the training split,
/// `eval_transforms` for validation, test and prediction.
#[derive(Clone, Copy, Debug)]
pub struct ImageTransforms<'a> {
    /// `data.train_transforms`.
    pub train: &'a [Box<dyn Transform>],
    /// `data.eval_transforms`.
    pub eval: &'a [Box<dyn Transform>],
}

impl ImageTransforms<'_> {
    /// Checks every transform's arguments and that batch transforms are only in the
    /// training list.
    ///
    /// # Errors
    /// [`DataError::Config`] naming `data.train_transforms[i]` or `data.eval_transforms[i]`.
    pub fn validate(&self) -> Result<(), DataError> {
        for (i, t) in self.train.iter().enumerate() {
            t.validate(&format!("data.train_transforms[{i}]"))?;
        }
        for (i, t) in self.eval.iter().enumerate() {
            let f = format!("data.eval_transforms[{i}]");
            t.validate(&f)?;
            if t.is_batch() {
                return Err(DataError::config(
                    f,
                    "MixUp and CutMix belong in data.train_transforms (they mix training batches)",
                ));
            }
        }
        Ok(())
    }

    fn needs_fit(&self) -> bool {
        Pipeline::needs_fit(self.train) || Pipeline::needs_fit(self.eval)
    }
}

/// Images of one source, ready to split.
#[derive(Debug)]
pub(crate) struct ImageSource {
    pub kind: &'static str,
    pub train: Arc<dyn ImageStore>,
    pub train_labels: Vec<usize>,
    pub test: Option<(Arc<dyn ImageStore>, Vec<usize>)>,
    pub classes: Vec<String>,
    pub notes: Vec<String>,
}

/// Splits `src` (subset, validation), fits or reuses the preprocessing, and builds the
/// transformed datasets.
pub(crate) fn image_splits(
    src: ImageSource,
    opts: &ImageSplitOptions,
    tf: ImageTransforms<'_>,
    ctx: &DataContext,
) -> Result<DataSplits, DataError> {
    opts.validate()?;
    tf.validate()?;
    let fitted: Option<ImagePreprocessing> = ctx.fitted_as()?;
    let classes = match &fitted {
        Some(f) => check_classes(f, &src.classes)?,
        None => src.classes.clone(),
    };
    let k = classes.len();
    let seed = split_seed(opts.split_seed, ctx);
    let (train_pos, val_pos) = split_positions(&src, opts, k, seed)?;
    let stats = match fitted.as_ref().and_then(|f| f.normalize.clone()) {
        Some(s) => Some(s),
        None if tf.needs_fit() => Some(fit_stats(&*src.train, &train_pos)?),
        None => None,
    };
    let shape = src.train.shape();
    let train_p = Pipeline::new("data.train_transforms", tf.train, shape, k, stats.as_ref())?;
    let eval_p = Pipeline::new("data.eval_transforms", tf.eval, shape, k, stats.as_ref())?;
    let labels = |pos: &[usize]| pos.iter().map(|&i| src.train_labels[i]).collect();
    let make = |store: &Arc<dyn ImageStore>, pos: Vec<usize>, labels, p: &Pipeline, f: &str| {
        ImageDataset::new(store.clone(), pos, labels, k, p.clone(), f, ctx.seed)
    };
    let train = make(
        &src.train,
        train_pos.clone(),
        labels(&train_pos),
        &train_p,
        "data.train_transforms",
    )?;
    let eval_field = "data.eval_transforms";
    let validation = match val_pos {
        Some(v) => Some(make(
            &src.train,
            v.clone(),
            labels(&v),
            &eval_p,
            eval_field,
        )?),
        None => None,
    };
    let test = match &src.test {
        Some((store, l)) => {
            let p = Pipeline::new(eval_field, tf.eval, store.shape(), k, stats.as_ref())?;
            Some(make(
                store,
                (0..l.len()).collect(),
                l.clone(),
                &p,
                eval_field,
            )?)
        }
        None => None,
    };
    let eval_shape = check_same_shape(&train, validation.as_ref().or(test.as_ref()))?;
    let pre = ImagePreprocessing {
        kind: src.kind.to_string(),
        version: 1,
        shape: eval_shape,
        classes: classes.clone(),
        normalize: stats,
    };
    let arc = |d: ImageDataset| Arc::new(d) as Arc<dyn Dataset>;
    Ok(DataSplits {
        train: arc(train),
        validation: validation.map(arc),
        test: test.map(arc),
        task: Task::Classification {
            num_classes: k,
            class_names: classes,
        },
        preprocessing: serde_json::to_value(&pre).expect("serializable"),
        notes: src.notes,
    })
}

/// The training and validation positions after `train_subset` and the validation split.
fn split_positions(
    src: &ImageSource,
    opts: &ImageSplitOptions,
    k: usize,
    seed: u64,
) -> Result<(Vec<usize>, Option<Vec<usize>>), DataError> {
    let n = src.train_labels.len();
    let mut pos: Vec<usize> = (0..n).collect();
    if let Some(m) = opts.train_subset {
        if m > n {
            return Err(DataError::config(
                "data.train_subset",
                format!("{m} is more than the {n} training images"),
            ));
        }
        pos = split_generator(seed, SUBSET_PURPOSE).randperm(n);
        pos.truncate(m);
    }
    if opts.validation <= 0.0 {
        return Ok((pos, None));
    }
    let labels: Vec<usize> = pos.iter().map(|&i| src.train_labels[i]).collect();
    let split = if opts.stratified {
        stratified_split(&labels, k, opts.validation, 0.0, seed)?
    } else {
        random_split(labels.len(), opts.validation, 0.0, seed)?
    };
    let pick = |v: &[usize]| v.iter().map(|&i| pos[i]).collect::<Vec<_>>();
    Ok((pick(&split.train), Some(pick(&split.validation))))
}

fn check_classes(f: &ImagePreprocessing, found: &[String]) -> Result<Vec<String>, DataError> {
    if !found.is_empty() && found != f.classes.as_slice() {
        return Err(DataError::Preprocessing(format!(
            "the run was trained on classes {:?}, but the data has {:?}",
            f.classes, found
        )));
    }
    Ok(f.classes.clone())
}

/// Per-channel statistics of the untransformed training images, read on the run's threads.
fn fit_stats(store: &dyn ImageStore, positions: &[usize]) -> Result<ChannelStats, DataError> {
    let threads = tuna_tensor::num_threads().clamp(1, 16);
    let chunk = positions.len().div_ceil(threads).max(1);
    let parts: Vec<Result<StatsAccumulator, DataError>> = std::thread::scope(|s| {
        let handles: Vec<_> = positions
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut acc = StatsAccumulator::new(store.channels());
                    for &i in part {
                        acc.add(&store.load(i)?);
                    }
                    Ok(acc)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("statistics thread panicked"))
            .collect()
    });
    let mut total = StatsAccumulator::new(store.channels());
    for p in parts {
        total.merge(&p?);
    }
    Ok(total.finish())
}

/// The model takes one input shape: the evaluation transforms must give what the training
/// transforms give. Returns that shape.
fn check_same_shape(
    train: &ImageDataset,
    eval: Option<&ImageDataset>,
) -> Result<Vec<usize>, DataError> {
    let t = train.input_kind().sample_shape();
    if let Some(e) = eval {
        let e = e.input_kind().sample_shape();
        if e != t {
            return Err(DataError::config(
                "data.eval_transforms",
                format!(
                    "give {e:?} images but data.train_transforms give {t:?}; the model takes \
                     one shape (add the same Resize/CenterCrop to both)"
                ),
            ));
        }
    }
    Ok(t)
}
