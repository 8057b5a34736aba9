//! [`DataConfig`]: the `[data]` section of an experiment file, a `typetag` plugin that loads
//! the train/validation/test splits, fits its preprocessing on the training split (or reuses
//! a saved one), and reads new inputs for prediction.

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dyn_clone::DynClone;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dataset::{Dataset, Input, InputKind};
use crate::error::DataError;

/// What the model learns: decides the metrics that apply and the target dtype.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Predict one of `num_classes` classes (targets are i64 class indices).
    Classification {
        /// The number of classes.
        num_classes: usize,
        /// Class names, index order (`["setosa", "versicolor", "virginica"]`); `"0"`, `"1"`,
        /// ... when the data has none.
        class_names: Vec<String>,
    },
    /// Predict `outputs` real values (targets are f32 `[batch, outputs]`).
    Regression {
        /// Values per sample.
        outputs: usize,
        /// The target columns' names.
        target_names: Vec<String>,
        /// When the targets were standardized for training (`standardize_target`): the
        /// training split's per-target mean and std, so that predictions, losses and metrics
        /// are reported in the original units (`y = y' · std + mean`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_scale: Option<TargetScale>,
    },
    /// Predict the next token at every position (a language model); targets are i64
    /// `[batch, length]`, padded positions [`IGNORE_INDEX`](crate::IGNORE_INDEX).
    LanguageModel {
        /// The vocabulary size (the model's output width).
        vocab_size: usize,
    },
}

/// Per-target affine scaling of regression targets: `y' = (y - mean) / std`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetScale {
    /// Per-target means.
    pub mean: Vec<f32>,
    /// Per-target standard deviations (positive).
    pub std: Vec<f32>,
}

impl TargetScale {
    /// Maps standardized values (`outputs` per row, row-major) back to the original units.
    pub fn invert(&self, values: &mut [f32]) {
        let k = self.mean.len();
        for row in values.chunks_exact_mut(k) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = *v * s + m;
            }
        }
    }
}

/// The loaded data: a training split, optional validation and test splits, the task, and
/// everything fitted on the training split.
#[derive(Clone, Debug)]
pub struct DataSplits {
    /// The samples the model trains on.
    pub train: Arc<dyn Dataset>,
    /// Held out from training, evaluated every epoch (early stopping, over-fitting checks).
    pub validation: Option<Arc<dyn Dataset>>,
    /// Evaluated once at the end.
    pub test: Option<Arc<dyn Dataset>>,
    /// Classification, regression or language modelling.
    pub task: Task,
    /// Everything the plugin fitted on the training split (feature statistics, category
    /// lists, imputation values, vocabularies, class names), as the plugin documents it. The
    /// run folder saves it as `preprocessing.json`; eval, predict and resume pass it back in
    /// [`DataContext::fitted`] so nothing is refitted on other data.
    pub preprocessing: Value,
    /// What the plugin decided that a user should know (columns taken as categorical,
    /// missing values imputed, a header that looks like data): printed when a run starts.
    pub notes: Vec<String>,
}

/// Where relative data paths are looked up, the experiment's seed (for splits), and the
/// preprocessing to reuse.
#[derive(Clone, Debug)]
pub struct DataContext {
    /// Directories a relative path is resolved against, in order; the first one where the
    /// path exists wins (typically the experiment file's directory, then the working
    /// directory).
    pub base_dirs: Vec<PathBuf>,
    /// The experiment seed.
    pub seed: u64,
    /// Preprocessing fitted by an earlier run (its `preprocessing.json`): when set, the plugin
    /// applies it as it is instead of fitting on the training split.
    pub fitted: Option<Value>,
}

impl DataContext {
    /// A context resolving against the working directory only, fitting preprocessing afresh.
    pub fn new(seed: u64) -> Self {
        DataContext {
            base_dirs: vec![PathBuf::from(".")],
            seed,
            fitted: None,
        }
    }

    /// The places a relative `path` is looked for, in order (just `path` if absolute).
    pub fn candidates(&self, path: &Path) -> Vec<PathBuf> {
        if path.is_absolute() || self.base_dirs.is_empty() {
            return vec![path.to_path_buf()];
        }
        let mut out: Vec<PathBuf> = Vec::new();
        for base in &self.base_dirs {
            let c = base.join(path);
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    /// `path` if absolute, else the first `base_dirs[i]/path` that exists.
    ///
    /// # Errors
    /// [`DataError::NotFound`] naming `field` and every place that was tried.
    pub fn resolve(&self, field: &str, path: &Path) -> Result<PathBuf, DataError> {
        let candidates = self.candidates(path);
        match candidates.iter().find(|c| c.exists()) {
            Some(found) => Ok(found.clone()),
            None => Err(DataError::NotFound {
                field: field.to_string(),
                path: path.to_path_buf(),
                tried: candidates,
            }),
        }
    }

    /// The fitted preprocessing to reuse, parsed as the plugin's own type `T`.
    ///
    /// # Errors
    /// [`DataError::Preprocessing`] when the saved preprocessing is not `T`'s format.
    pub fn fitted_as<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>, DataError> {
        match &self.fitted {
            None => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| DataError::Preprocessing(e.to_string())),
        }
    }
}

/// One row read for prediction: an id (the row's line, index or file name) and its input.
#[derive(Clone, Debug, PartialEq)]
pub struct PredictRow {
    /// What identifies the row in the output (`"17"`, `"line 18"`, an id column's value).
    pub id: String,
    /// The preprocessed input, as the model takes it.
    pub input: Input<'static>,
}

/// A stream of rows to predict (see [`DataConfig::predict_rows`]): read lazily, so a file
/// larger than memory works.
pub trait PredictRows: Iterator<Item = Result<PredictRow, DataError>> + Send {
    /// What the rows' inputs are (the same as the training data's).
    fn input_kind(&self) -> InputKind;
}

/// Encodes text to token ids and back, with the vocabulary a run fitted (for `tuna generate`
/// and text prediction).
pub trait TextCodec: Debug + Send + Sync {
    /// The ids of `text` (no truncation).
    fn encode(&self, text: &str) -> Vec<i64>;
    /// The text of `ids` (special tokens dropped).
    fn decode(&self, ids: &[i64]) -> String;
    /// The number of ids.
    fn vocab_size(&self) -> usize;
    /// The id that starts a sequence, if the vocabulary has one.
    fn bos_id(&self) -> Option<i64>;
    /// The id that ends a sequence, if the vocabulary has one.
    fn eos_id(&self) -> Option<i64>;
}

/// A data source in an experiment file (`[data]`, `type = "Mnist"`, `"Csv"` or `"Text"`).
///
/// Register your own with `#[typetag::serde(name = "MyData")] impl DataConfig for ...`.
#[typetag::serde(tag = "type")]
pub trait DataConfig: DynClone + Debug + Send + Sync {
    /// The tag this config is written with (`type = "..."`: the PyTorch, torchvision or
    /// Optuna class name where there is one).
    fn name(&self) -> &'static str {
        self.typetag_name()
    }

    /// Checks every field without touching the file system.
    ///
    /// # Errors
    /// [`DataError::Config`] naming the first invalid field (`data.validation`).
    fn validate(&self) -> Result<(), DataError>;

    /// Reads the files and returns the splits. Preprocessing is fitted on the training split,
    /// or taken from `ctx.fitted` when set (then nothing is refitted).
    ///
    /// # Errors
    /// A missing, unreadable or corrupt file, or data that contradicts the config.
    fn load(&self, ctx: &DataContext) -> Result<DataSplits, DataError>;

    /// The file paths this config names, with their field names (`data.path`), so that an
    /// experiment can resolve them relative to its file and record them absolutely.
    fn paths_mut(&mut self) -> Vec<(String, &mut PathBuf)> {
        Vec::new()
    }

    /// Reads `input` (a file in a format this plugin reads; labels not needed) for prediction,
    /// preprocessed with `ctx.fitted` (required).
    ///
    /// # Errors
    /// [`DataError::Unsupported`] if the plugin cannot predict; a missing or corrupt file.
    fn predict_rows(
        &self,
        ctx: &DataContext,
        input: &Path,
    ) -> Result<Box<dyn PredictRows>, DataError> {
        let _ = (ctx, input);
        Err(DataError::Unsupported(format!(
            "data type {} cannot read inputs for prediction",
            self.typetag_name()
        )))
    }

    /// The text codec of a token-based plugin, built from its fitted preprocessing.
    ///
    /// # Errors
    /// [`DataError::Unsupported`] for plugins without text.
    fn text_codec(&self, fitted: &Value) -> Result<Box<dyn TextCodec>, DataError> {
        let _ = fitted;
        Err(DataError::Unsupported(format!(
            "data type {} has no text vocabulary",
            self.typetag_name()
        )))
    }
}

dyn_clone::clone_trait_object!(DataConfig);

/// Reads a `seed`-like override: the plugin's `split_seed` when set, else the experiment seed.
pub fn split_seed(own: Option<u64>, ctx: &DataContext) -> u64 {
    own.unwrap_or(ctx.seed)
}
