//! [`DataConfig`]: the `[data]` section of an experiment file, a `typetag` plugin that loads
//! the train/validation/test splits.

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dyn_clone::DynClone;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
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
    },
}

/// The loaded data: a training split and optional validation and test splits.
#[derive(Clone, Debug)]
pub struct DataSplits {
    /// The samples the model trains on.
    pub train: Arc<dyn Dataset>,
    /// Held out from training, evaluated every epoch (early stopping, over-fitting checks).
    pub validation: Option<Arc<dyn Dataset>>,
    /// Evaluated once at the end.
    pub test: Option<Arc<dyn Dataset>>,
    /// Classification or regression.
    pub task: Task,
}

/// Where relative data paths are looked up, and the experiment's seed (for splits).
#[derive(Clone, Debug)]
pub struct DataContext {
    /// Directories a relative path is resolved against, in order; the first one where the
    /// path exists wins (typically the working directory, then the config file's directory).
    pub base_dirs: Vec<PathBuf>,
    /// The experiment seed.
    pub seed: u64,
}

impl DataContext {
    /// A context resolving against the working directory only.
    pub fn new(seed: u64) -> Self {
        DataContext {
            base_dirs: vec![PathBuf::from(".")],
            seed,
        }
    }

    /// `path` if absolute, else the first `base_dirs[i]/path` that exists, else
    /// `base_dirs[0]/path` (so the error names where it was expected).
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            return path.to_path_buf();
        }
        for base in &self.base_dirs {
            let candidate = base.join(path);
            if candidate.exists() {
                return candidate;
            }
        }
        match self.base_dirs.first() {
            Some(base) => base.join(path),
            None => path.to_path_buf(),
        }
    }
}

/// A data source in an experiment file (`[data]`, `type = "Mnist"` or `type = "Csv"`).
///
/// Register your own with `#[typetag::serde(name = "MyData")] impl DataConfig for ...`.
#[typetag::serde(tag = "type")]
pub trait DataConfig: DynClone + Debug + Send + Sync {
    /// Checks every field without touching the file system.
    ///
    /// # Errors
    /// [`DataError::Config`] naming the first invalid field (`data.validation`).
    fn validate(&self) -> Result<(), DataError>;

    /// Reads the files and returns the splits.
    ///
    /// # Errors
    /// A missing, unreadable or corrupt file, or data that contradicts the config.
    fn load(&self, ctx: &DataContext) -> Result<DataSplits, DataError>;
}

dyn_clone::clone_trait_object!(DataConfig);
