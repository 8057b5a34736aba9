//! Metrics computed without building a graph: streamed over batches in O(classes²) memory
//! (classification) or O(outputs) (regression), merged across workers, finished once per
//! epoch.
//!
//! An experiment file names them in `train.metrics`; the trainer records each scalar as
//! `train_<name>` / `val_<name>` in `metrics.jsonl`. Loss is not a metric here (the trainer
//! averages it).
//!
//! | name | task | value | equivalent |
//! |---|---|---|---|
//! | `accuracy` | classification | `trace(C) / N` | `sklearn.metrics.accuracy_score`, torchmetrics `MulticlassAccuracy(average="micro")` |
//! | `top{k}_accuracy` (`top5_accuracy`, k ≥ 1) | classification | share of samples whose true class is among the k highest scores | `sklearn.metrics.top_k_accuracy_score`, torchmetrics `MulticlassAccuracy(top_k=k, average="micro")` (tie rule below) |
//! | `precision` | classification | macro mean of `TP_c / (TP_c + FP_c)` | `precision_score(average="macro", zero_division=0)` |
//! | `recall` | classification | macro mean of `TP_c / (TP_c + FN_c)` | `recall_score(average="macro", zero_division=0)` |
//! | `f1` | classification | macro mean of `2 TP_c / (2 TP_c + FP_c + FN_c)` | `f1_score(average="macro", zero_division=0)` |
//! | `confusion_matrix` | classification | not a scalar: `C[true][predicted]` counts | `sklearn.metrics.confusion_matrix` |
//! | `mae` | regression | mean over outputs of `Σ|ŷ - y| / N` | `mean_absolute_error` |
//! | `rmse` | regression | mean over outputs of `sqrt(Σ(ŷ - y)² / N)` | `root_mean_squared_error` |
//! | `r2` | regression | mean over outputs of `1 - Σ(ŷ - y)² / Σ(y - ȳ)²` | `r2_score` |
//! | `accuracy` | language model | share of next tokens predicted exactly (argmax), padding ignored | torchmetrics `MulticlassAccuracy(ignore_index=-100)` |
//! | `perplexity` | language model | `exp(mean over real tokens of -log softmax(ŷ)[y])` | torchmetrics `Perplexity(ignore_index=-100)` |
//!
//! Conventions, all sklearn's (`multioutput="uniform_average"`, `zero_division=0`):
//! - The predicted class is the argmax of the outputs (logits or probabilities alike); ties
//!   go to the lower class index and NaN counts as the largest value, like `torch.argmax`.
//! - Macro averages run over the classes that occur in the targets or the predictions seen
//!   so far (sklearn's `unique_labels(y_true, y_pred)`; torchmetrics likewise drops classes
//!   with `TP + FP + FN = 0`). A class that is predicted but never true has recall 0; one that
//!   is true but never predicted has precision 0.
//! - `top{k}_accuracy` with tied scores ranks the lower class index first (`torch.topk`'s
//!   order on CPU): the true class `t` is a hit when `#{j : s_j > s_t} + #{j < t : s_j = s_t}
//!   < k`. So `top1_accuracy == accuracy`. (sklearn's `top_k_accuracy_score` breaks ties the
//!   other way, higher index first.)
//! - A constant target column has `Σ(y - ȳ)² = 0`: its R² is 1.0 if predicted exactly, else
//!   0.0 (sklearn's `force_finite=True`). R² of fewer than two samples is NaN, as in sklearn.
//! - With no samples at all, every scalar is NaN.
//!
//! ```
//! use tuna_data::Task;
//! use tuna_tensor::Tensor;
//! use tuna_train::metrics::MetricSet;
//!
//! let task = Task::Classification { num_classes: 3, class_names: vec!["a".into(), "b".into(), "c".into()] };
//! let set = MetricSet::parse(&["accuracy", "f1", "confusion_matrix"], &task).unwrap();
//! assert_eq!(set.names(), ["accuracy", "f1"]);
//! let mut acc = set.accumulator();
//! let logits = Tensor::from_vec(vec![2.0f32, 0.0, 0.0, 0.0, 1.0, 0.0], &[2, 3]);
//! acc.update(&logits, &Tensor::from_vec(vec![0i64, 2], &[2])).unwrap();
//! assert_eq!(acc.finish()[0], ("accuracy".to_string(), 0.5));
//! assert_eq!(acc.confusion_matrix().unwrap(), [[1, 0, 0], [0, 0, 0], [0, 1, 0]]);
//! ```

mod classification;
mod regression;
mod tokens;

use std::fmt;

use tuna_data::Task;
use tuna_tensor::{DType, Tensor};

use classification::ClassCounts;
use regression::RegressionStats;
use tokens::TokenStats;

/// The metric names `MetricSet::parse` accepts, as listed in its errors.
pub const KNOWN_METRICS: &str = "accuracy, top{k}_accuracy (k >= 1), precision, recall, f1, \
     confusion_matrix, mae, rmse, r2, perplexity (language models)";

/// One metric of `train.metrics`. See the [module docs](self) for the conventions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Metric {
    /// `accuracy`: `Σ_c C[c][c] / N`, the share of argmax predictions equal to the target
    /// (`sklearn.metrics.accuracy_score`).
    Accuracy,
    /// `top{k}_accuracy`: the share of samples whose target is among the `k` highest scores,
    /// lower index first among ties (`sklearn.metrics.top_k_accuracy_score`, torchmetrics
    /// `MulticlassAccuracy(top_k=k, average="micro")`).
    TopKAccuracy {
        /// How many of the highest-scoring classes count as a hit (>= 1).
        k: usize,
    },
    /// `precision`: `mean_c TP_c / (TP_c + FP_c)` over the classes seen, 0 for a class never
    /// predicted (`precision_score(average="macro", zero_division=0)`).
    Precision,
    /// `recall`: `mean_c TP_c / (TP_c + FN_c)` over the classes seen, 0 for a class never
    /// true (`recall_score(average="macro", zero_division=0)`).
    Recall,
    /// `f1`: `mean_c 2 TP_c / (2 TP_c + FP_c + FN_c)` over the classes seen — the mean of the
    /// per-class F1 scores, not the F1 of macro precision and recall
    /// (`f1_score(average="macro", zero_division=0)`).
    F1,
    /// `confusion_matrix`: `C[i][j]` = samples of true class `i` predicted as `j`
    /// (`sklearn.metrics.confusion_matrix`). Not a scalar: read it with
    /// [`MetricAccumulator::confusion_matrix`].
    ConfusionMatrix,
    /// `mae`: `mean_j Σ_i |ŷ_ij - y_ij| / N` (`sklearn.metrics.mean_absolute_error`).
    Mae,
    /// `rmse`: `mean_j sqrt(Σ_i (ŷ_ij - y_ij)² / N)`, the mean of per-output RMSEs
    /// (`sklearn.metrics.root_mean_squared_error`; torchmetrics'
    /// `MeanSquaredError(squared=False)` takes one root over all outputs instead).
    Rmse,
    /// `r2`: `mean_j 1 - Σ_i (ŷ_ij - y_ij)² / Σ_i (y_ij - ȳ_j)²`, with 1.0 (exact) or 0.0 for
    /// a constant target column (`sklearn.metrics.r2_score`).
    R2,
    /// `perplexity` (language models): `exp` of the mean negative log-likelihood of the real
    /// next tokens under the model's softmax (torchmetrics `Perplexity(ignore_index=-100)`).
    Perplexity,
}

/// The kind of task a metric needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskKind {
    /// Class indices as targets.
    Classification,
    /// Real values as targets.
    Regression,
    /// Next-token ids as targets.
    LanguageModel,
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskKind::Classification => "classification",
            TaskKind::Regression => "regression",
            TaskKind::LanguageModel => "language model",
        })
    }
}

impl Metric {
    /// The metric called `name` in an experiment file, if any (`top5_accuracy` →
    /// `TopKAccuracy { k: 5 }`; `top0_accuracy` and `top05_accuracy` are not names).
    pub fn from_name(name: &str) -> Option<Metric> {
        Some(match name {
            "accuracy" => Metric::Accuracy,
            "precision" => Metric::Precision,
            "recall" => Metric::Recall,
            "f1" => Metric::F1,
            "confusion_matrix" => Metric::ConfusionMatrix,
            "mae" => Metric::Mae,
            "rmse" => Metric::Rmse,
            "r2" => Metric::R2,
            "perplexity" => Metric::Perplexity,
            _ => {
                let digits = name.strip_prefix("top")?.strip_suffix("_accuracy")?;
                if digits.is_empty()
                    || digits.starts_with('0')
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                Metric::TopKAccuracy {
                    k: digits.parse().ok()?,
                }
            }
        })
    }

    /// The name in an experiment file and in `metrics.jsonl` keys (`train_<name>`).
    pub fn name(&self) -> String {
        match self {
            Metric::Accuracy => "accuracy".into(),
            Metric::TopKAccuracy { k } => format!("top{k}_accuracy"),
            Metric::Precision => "precision".into(),
            Metric::Recall => "recall".into(),
            Metric::F1 => "f1".into(),
            Metric::ConfusionMatrix => "confusion_matrix".into(),
            Metric::Mae => "mae".into(),
            Metric::Rmse => "rmse".into(),
            Metric::R2 => "r2".into(),
            Metric::Perplexity => "perplexity".into(),
        }
    }

    /// The task the metric applies to (accuracy also fits a language model).
    pub fn task(&self) -> TaskKind {
        match self {
            Metric::Mae | Metric::Rmse | Metric::R2 => TaskKind::Regression,
            Metric::Perplexity => TaskKind::LanguageModel,
            _ => TaskKind::Classification,
        }
    }

    /// Whether the metric can be computed for `task`.
    pub fn fits(&self, task: TaskKind) -> bool {
        self.task() == task || (task == TaskKind::LanguageModel && *self == Metric::Accuracy)
    }

    /// Whether the metric is one number per epoch (all but `confusion_matrix`).
    pub fn is_scalar(&self) -> bool {
        *self != Metric::ConfusionMatrix
    }

    /// Whether a larger value is better (`false` for `mae` and `rmse`): the direction for
    /// early stopping, "best epoch" and tuning on this metric.
    pub fn higher_is_better(&self) -> bool {
        !matches!(self, Metric::Mae | Metric::Rmse | Metric::Perplexity)
    }
}

/// Why `train.metrics` is invalid, or why a batch does not fit the metrics.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MetricError {
    /// Not a metric name.
    #[error("train.metrics[{index}]: unknown metric \"{name}\"; known: {KNOWN_METRICS}")]
    Unknown {
        /// The position in `train.metrics`.
        index: usize,
        /// The name given.
        name: String,
    },
    /// A classification metric on regression data or the reverse.
    #[error("train.metrics[{index}]: \"{name}\" needs a {needs} task, the data is {found}")]
    WrongTask {
        /// The position in `train.metrics`.
        index: usize,
        /// The name given.
        name: String,
        /// The task the metric needs.
        needs: TaskKind,
        /// The data's task.
        found: TaskKind,
    },
    /// The same name twice.
    #[error("train.metrics[{index}]: \"{name}\" is already listed at train.metrics[{first}]")]
    Duplicate {
        /// The position of the repeat.
        index: usize,
        /// The position of the first occurrence.
        first: usize,
        /// The name.
        name: String,
    },
    /// `top{k}_accuracy` with more classes asked for than exist.
    #[error(
        "train.metrics[{index}]: \"top{k}_accuracy\" needs k <= the number of classes, the data has {num_classes}"
    )]
    TopKTooLarge {
        /// The position in `train.metrics`.
        index: usize,
        /// The k asked for.
        k: usize,
        /// The classes of the task.
        num_classes: usize,
    },
    /// Model outputs and targets whose shapes do not fit the task.
    #[error("metrics: outputs of shape {outputs:?} and targets of shape {targets:?} do not fit {expected}")]
    Shape {
        /// The outputs' shape.
        outputs: Vec<usize>,
        /// The targets' shape.
        targets: Vec<usize>,
        /// What was expected, e.g. `"a 3-class task: outputs [batch, 3], targets [batch]"`.
        expected: String,
    },
    /// A classification target that is not a class index.
    #[error("metrics: target {value} of sample {sample} in the batch is not a class index in 0..{num_classes}")]
    BadTarget {
        /// The sample's position in the batch.
        sample: usize,
        /// The target value.
        value: f64,
        /// The classes of the task.
        num_classes: usize,
    },
}

/// The task's size, all the accumulators need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum Shape {
    Classification { num_classes: usize },
    Regression { outputs: usize },
    Tokens { vocab_size: usize },
}

/// The validated `train.metrics` of an experiment for its task.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricSet {
    metrics: Vec<Metric>,
    shape: Shape,
    /// For two classes scored by one output per sample: the score above which the class
    /// is 1 (0 for logits, 0.5 for probabilities).
    #[serde(default)]
    binary_threshold: f64,
}

impl MetricSet {
    /// Sets the threshold for two-class tasks scored by one output per sample (class 1 when
    /// the score is above it): 0 for logits (`BCEWithLogitsLoss`, the default), 0.5 for
    /// probabilities (`BCELoss`).
    pub fn with_binary_threshold(mut self, threshold: f64) -> Self {
        self.binary_threshold = threshold;
        self
    }

    /// Parses `train.metrics` against the data's task.
    ///
    /// # Errors
    /// Names the entry (`train.metrics[2]: unknown metric "acc"; known: ...`) for an unknown
    /// name, a metric of the other task, a repeat, or `top{k}_accuracy` with `k` above the
    /// number of classes.
    pub fn parse(names: &[impl AsRef<str>], task: &Task) -> Result<MetricSet, MetricError> {
        let (shape, kind) = match task {
            Task::Classification { num_classes, .. } => (
                Shape::Classification {
                    num_classes: *num_classes,
                },
                TaskKind::Classification,
            ),
            Task::Regression { outputs, .. } => (
                Shape::Regression { outputs: *outputs },
                TaskKind::Regression,
            ),
            Task::LanguageModel { vocab_size } => (
                Shape::Tokens {
                    vocab_size: *vocab_size,
                },
                TaskKind::LanguageModel,
            ),
        };
        let mut metrics: Vec<Metric> = Vec::with_capacity(names.len());
        for (index, name) in names.iter().enumerate() {
            let name = name.as_ref();
            let metric = Metric::from_name(name).ok_or_else(|| MetricError::Unknown {
                index,
                name: name.into(),
            })?;
            if !metric.fits(kind) {
                return Err(MetricError::WrongTask {
                    index,
                    name: name.into(),
                    needs: metric.task(),
                    found: kind,
                });
            }
            if let Some(first) = metrics.iter().position(|m| *m == metric) {
                return Err(MetricError::Duplicate {
                    index,
                    first,
                    name: name.into(),
                });
            }
            if let (Metric::TopKAccuracy { k }, Shape::Classification { num_classes }) =
                (metric, shape)
            {
                if k > num_classes {
                    return Err(MetricError::TopKTooLarge {
                        index,
                        k,
                        num_classes,
                    });
                }
            }
            metrics.push(metric);
        }
        Ok(MetricSet {
            metrics,
            shape,
            binary_threshold: 0.0,
        })
    }

    /// The metrics, in `train.metrics` order.
    pub fn metrics(&self) -> &[Metric] {
        &self.metrics
    }

    /// The scalar metrics' names in order (what [`MetricAccumulator::finish`] returns).
    pub fn names(&self) -> Vec<String> {
        self.metrics
            .iter()
            .filter(|m| m.is_scalar())
            .map(Metric::name)
            .collect()
    }

    /// An empty accumulator for one pass over a split.
    pub fn accumulator(&self) -> MetricAccumulator {
        let state = match self.shape {
            Shape::Classification { num_classes } => {
                let ks = self
                    .metrics
                    .iter()
                    .filter_map(|m| match m {
                        Metric::TopKAccuracy { k } => Some(*k),
                        _ => None,
                    })
                    .collect();
                State::Classification(ClassCounts::new(num_classes, ks))
            }
            Shape::Regression { outputs } => State::Regression(RegressionStats::new(outputs)),
            Shape::Tokens { vocab_size } => State::Tokens(TokenStats::new(vocab_size)),
        };
        MetricAccumulator {
            set: self.clone(),
            state,
        }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
enum State {
    Classification(ClassCounts),
    Regression(RegressionStats),
    Tokens(TokenStats),
}

/// Running sufficient statistics of one pass: a confusion matrix (plus top-k hit counts) for
/// classification, per-output error sums and Welford target moments for regression. No
/// graph, no stored predictions.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricAccumulator {
    set: MetricSet,
    state: State,
}

impl MetricAccumulator {
    /// Adds one batch: `outputs` `[batch, num_classes]` scores (any dtype, e.g. f32 logits)
    /// with `targets` `[batch]` class indices (i64, or integral floats) for classification;
    /// `outputs` `[batch, outputs]` with `targets` of the same shape for regression (`[batch]`
    /// on either side when there is one output).
    ///
    /// # Errors
    /// [`MetricError::Shape`] naming both shapes, or [`MetricError::BadTarget`]; the
    /// accumulator is then unchanged.
    pub fn update(&mut self, outputs: &Tensor, targets: &Tensor) -> Result<(), MetricError> {
        let (o, t) = (outputs.shape(), targets.shape());
        let err = |expected: String| MetricError::Shape {
            outputs: o.to_vec(),
            targets: t.to_vec(),
            expected,
        };
        match &mut self.state {
            State::Classification(counts) => {
                let c = counts.num_classes();
                // Binary classification with one score per sample (BCEWithLogitsLoss /
                // BCELoss): class 1 when the score is above the threshold.
                if c == 2 && t.len() == 1 && matches!(o, [b] | [b, 1] if *b == t[0]) {
                    let thr = self.set.binary_threshold;
                    let scores: Vec<f64> = outputs
                        .to_vec_f64()
                        .into_iter()
                        .flat_map(|x| [thr, x])
                        .collect();
                    let classes = class_indices(targets, c)?;
                    counts.update(&scores, &classes);
                    return Ok(());
                }
                // Class probabilities (MixUp/CutMix soft targets): the most likely class
                // counts as the target, as torchvision's reference `utils.accuracy` does.
                if t.len() == 2 && t == o && t[1] == c && targets.dtype().is_float() {
                    let probs = targets.to_vec_f64();
                    let classes: Vec<usize> = probs.chunks(c).map(classification::argmax).collect();
                    counts.update(&outputs.to_vec_f64(), &classes);
                    return Ok(());
                }
                if o.len() != 2 || o[1] != c || t.len() != 1 || t[0] != o[0] {
                    return Err(err(format!(
                        "a {c}-class task: outputs [batch, {c}], targets [batch]"
                    )));
                }
                let classes = class_indices(targets, c)?;
                counts.update(&outputs.to_vec_f64(), &classes);
            }
            State::Regression(stats) => {
                let n = stats.outputs();
                let fits = |s: &[usize]| match s {
                    [_, k] => *k == n,
                    [_] => n == 1,
                    _ => false,
                };
                if !fits(o) || !fits(t) || o[0] != t[0] {
                    let alt = if n == 1 { " (or [batch])" } else { "" };
                    return Err(err(format!(
                        "a regression task with {n} output(s): outputs and targets [batch, {n}]{alt}"
                    )));
                }
                stats.update(&outputs.to_vec_f64(), &targets.to_vec_f64());
            }
            State::Tokens(stats) => {
                let v = stats.vocab_size();
                let rows = t.iter().product::<usize>();
                if o.last() != Some(&v) || o.iter().product::<usize>() != rows * v {
                    return Err(err(format!(
                        "a language model over {v} tokens: outputs [batch, length, {v}], \
                         targets [batch, length]"
                    )));
                }
                let ids = targets
                    .to_dtype(DType::I64)
                    .contiguous_data::<i64>()
                    .into_owned();
                stats.update(&outputs.to_vec_f64(), &ids);
            }
        }
        Ok(())
    }

    /// The samples seen so far.
    pub fn samples(&self) -> u64 {
        match &self.state {
            State::Classification(c) => c.samples(),
            State::Regression(r) => r.samples(),
            State::Tokens(t) => t.samples(),
        }
    }

    /// The scalar metrics, `(name, value)` in [`MetricSet::names`] order; NaN for all of them
    /// before any sample.
    pub fn finish(&self) -> Vec<(String, f64)> {
        self.set
            .metrics
            .iter()
            .filter(|m| m.is_scalar())
            .map(|m| {
                let v = match &self.state {
                    State::Classification(c) => c.value(*m),
                    State::Regression(r) => r.value(*m),
                    State::Tokens(t) => t.value(*m),
                };
                (m.name(), v)
            })
            .collect()
    }

    /// The confusion matrix, rows = true class, columns = predicted class (like
    /// `sklearn.metrics.confusion_matrix`), if `confusion_matrix` is in the set.
    pub fn confusion_matrix(&self) -> Option<Vec<Vec<u64>>> {
        match &self.state {
            State::Classification(c) if self.set.metrics.contains(&Metric::ConfusionMatrix) => {
                Some(c.matrix())
            }
            _ => None,
        }
    }

    /// The confusion counts of a classification pass (rows = true class, columns =
    /// predicted class), whether or not `confusion_matrix` is in the set; `None` for
    /// regression and language models.
    pub fn class_counts(&self) -> Option<Vec<Vec<u64>>> {
        match &self.state {
            State::Classification(c) => Some(c.matrix()),
            _ => None,
        }
    }

    /// Adds the samples `other` has seen (another worker's or shard's pass): the result
    /// equals one accumulator updated with both passes' batches.
    ///
    /// # Panics
    /// If `other` comes from a different [`MetricSet`].
    pub fn merge(&mut self, other: &MetricAccumulator) {
        assert!(
            self.set == other.set,
            "MetricAccumulator::merge: different metric sets ({:?} vs {:?})",
            self.set.names(),
            other.set.names()
        );
        match (&mut self.state, &other.state) {
            (State::Classification(a), State::Classification(b)) => a.merge(b),
            (State::Regression(a), State::Regression(b)) => a.merge(b),
            (State::Tokens(a), State::Tokens(b)) => a.merge(b),
            _ => unreachable!("equal metric sets have the same task"),
        }
    }

    /// Forgets every sample (for the next epoch).
    pub fn reset(&mut self) {
        *self = self.set.accumulator();
    }
}

/// The targets as class indices, checked to lie in `0..num_classes`.
fn class_indices(targets: &Tensor, num_classes: usize) -> Result<Vec<usize>, MetricError> {
    let bad = |sample: usize, value: f64| MetricError::BadTarget {
        sample,
        value,
        num_classes,
    };
    if targets.dtype() == DType::I64 {
        targets
            .contiguous_data::<i64>()
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                usize::try_from(v)
                    .ok()
                    .filter(|&c| c < num_classes)
                    .ok_or_else(|| bad(i, v as f64))
            })
            .collect()
    } else {
        targets
            .to_vec_f64()
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                if v >= 0.0 && v.fract() == 0.0 && v < num_classes as f64 {
                    Ok(v as usize)
                } else {
                    Err(bad(i, v))
                }
            })
            .collect()
    }
}
