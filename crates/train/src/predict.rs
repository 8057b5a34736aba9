//! [`Predictor`]: a trained run's model applied to new inputs, preprocessed with the run's own
//! `preprocessing.json` — what `tuna predict` does, from code.
//!
//! ```no_run
//! use tuna_train::predict::{Predictor, Weights};
//!
//! let p = Predictor::open("runs/iris".as_ref(), Weights::Final).unwrap();
//! for batch in p.predict_file("new-flowers.csv".as_ref(), 256).unwrap() {
//!     for row in batch.unwrap() {
//!         println!("{} {:?}", row.id, row.label);
//!     }
//! }
//! ```

use std::path::Path;

use serde::Serialize;
use tuna_autograd::{no_grad, Tape};
use tuna_data::{
    collate, DataConfig, DataContext, Dataset, Input, InputKind, PredictRow, PredictRows, Sample,
    Target, TargetKind, Task,
};
use tuna_nn::{BuildContext, Module};
use tuna_tensor::{DType, Tensor};

use crate::checkpoint::Checkpoint;
use crate::error::TrainError;
use crate::experiment::Experiment;
use crate::run_dir::RunDir;
use crate::trainer::step::forward;

/// Which weights of a run to predict with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weights {
    /// `model.safetensors`, checked against its recorded checksum.
    Final,
    /// The best epoch's checkpoint.
    Best,
    /// The last checkpoint.
    Last,
}

/// One prediction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Prediction {
    /// The row's id (an id column's value, a line, or the row number from 0).
    pub id: String,
    /// The predicted class name (classification).
    #[serde(rename = "prediction", skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The probability of each class, in class order (classification).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probabilities: Option<Vec<f64>>,
    /// The predicted values in the original units (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<f64>>,
}

/// How model outputs become predictions.
#[derive(Clone, Debug)]
enum Head {
    /// Class scores: logits (softmax), log-probabilities (exp) or one binary score.
    Classes {
        names: Vec<String>,
        scores: Scores,
    },
    Values(Option<tuna_data::TargetScale>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Scores {
    Logits,
    LogProbabilities,
    BinaryLogit,
    BinaryProbability,
}

/// A run's model ready to predict (see the [module docs](self)).
#[derive(Debug)]
pub struct Predictor {
    exp: Experiment,
    fitted: serde_json::Value,
    model: Box<dyn Module>,
    head: Head,
}

impl Predictor {
    /// Opens a run folder: its experiment, its fitted preprocessing, the task, and the chosen
    /// weights. The training data files are not needed.
    ///
    /// # Errors
    /// Not a run folder, a run without `preprocessing.json` or a recorded task (written before
    /// they existed), corrupt weights, a language-model run (use `generate`).
    pub fn open(dir: &Path, weights: Weights) -> Result<Predictor, TrainError> {
        let run = RunDir::open(dir)?;
        let exp = Experiment::load(&run.config_path(), &[])?;
        let fitted = run.read_preprocessing()?.ok_or_else(|| {
            TrainError::io(
                run.preprocessing_path(),
                "missing: the run predates saved preprocessing; train it again",
            )
        })?;
        let task = run.read_manifest()?.and_then(|m| m.task).ok_or_else(|| {
            TrainError::io(
                run.manifest_path(),
                "no task recorded: the run predates `tuna predict`; train it again",
            )
        })?;
        let head = head_of(&task, exp.loss.name())?;
        exp.model.validate()?;
        let model = exp.model.build(&mut BuildContext::new(exp.seed))?;
        match weights {
            Weights::Final => run.load_weights(model.as_ref())?,
            Weights::Best | Weights::Last => {
                let path = if weights == Weights::Best {
                    run.best_checkpoint()
                } else {
                    run.last_checkpoint()
                };
                let ckpt = Checkpoint::load(&path)?;
                tuna_nn::load_state_dict(model.as_ref(), &ckpt.model, true)?;
            }
        }
        let mut p = Predictor {
            exp,
            fitted,
            model,
            head,
        };
        p.model.set_training(false);
        Ok(p)
    }

    /// The class names, index order (classification), or the target names' count is not
    /// known here (regression): `None`.
    pub fn class_names(&self) -> Option<&[String]> {
        match &self.head {
            Head::Classes { names, .. } => Some(names),
            Head::Values(_) => None,
        }
    }

    /// The run's data section (which reads the input files).
    pub fn data(&self) -> &dyn DataConfig {
        self.exp.data.as_ref()
    }

    /// Reads `input` with the run's data plugin and preprocessing, and predicts it batch by
    /// batch (`batch_size` rows at a time), so a file larger than memory works.
    ///
    /// # Errors
    /// An input the plugin cannot read (the error names the file and line).
    pub fn predict_file(
        &self,
        input: &Path,
        batch_size: usize,
    ) -> Result<PredictBatches<'_>, TrainError> {
        let ctx = DataContext {
            fitted: Some(self.fitted.clone()),
            ..self.exp.data_context()
        };
        let rows = self.exp.data.predict_rows(&ctx, input)?;
        Ok(PredictBatches {
            predictor: self,
            rows,
            batch_size: batch_size.max(1),
            done: false,
        })
    }

    /// Predicts a batch of preprocessed rows.
    ///
    /// # Errors
    /// Rows that do not fit the model.
    pub fn predict_rows(
        &self,
        kind: &InputKind,
        rows: Vec<PredictRow>,
    ) -> Result<Vec<Prediction>, TrainError> {
        let ds = RowsDataset {
            kind: kind.clone(),
            rows,
        };
        let idx: Vec<usize> = (0..ds.rows.len()).collect();
        let batch = collate(&ds, &idx, 0);
        let out = no_grad(|| {
            let tape = Tape::new();
            forward(self.model.as_ref(), &tape, &batch).value()
        });
        let n = ds.rows.len();
        let per = out.numel() / n.max(1);
        let values = out
            .to_dtype(DType::F64)
            .contiguous_data::<f64>()
            .into_owned();
        Ok(ds
            .rows
            .into_iter()
            .zip(values.chunks(per.max(1)))
            .map(|(r, v)| self.head.predict(r.id, v))
            .collect())
    }
}

impl Head {
    fn predict(&self, id: String, v: &[f64]) -> Prediction {
        match self {
            Head::Classes { names, scores } => {
                let p = probabilities(*scores, v);
                let best = p
                    .iter()
                    .enumerate()
                    .fold(0, |b, (i, &x)| if x > p[b] { i } else { b });
                Prediction {
                    id,
                    label: names.get(best).cloned(),
                    probabilities: Some(p),
                    values: None,
                }
            }
            Head::Values(scale) => {
                let mut vals: Vec<f32> = v.iter().map(|&x| x as f32).collect();
                if let Some(s) = scale {
                    s.invert(&mut vals);
                }
                Prediction {
                    id,
                    label: None,
                    probabilities: None,
                    values: Some(vals.into_iter().map(f64::from).collect()),
                }
            }
        }
    }
}

/// Class probabilities from a sample's outputs.
fn probabilities(scores: Scores, v: &[f64]) -> Vec<f64> {
    match scores {
        Scores::Logits => {
            let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = v.iter().map(|x| (x - max).exp()).collect();
            let s: f64 = e.iter().sum();
            e.into_iter().map(|x| x / s).collect()
        }
        Scores::LogProbabilities => v.iter().map(|x| x.exp()).collect(),
        Scores::BinaryLogit => {
            let p = 1.0 / (1.0 + (-v[0]).exp());
            vec![1.0 - p, p]
        }
        Scores::BinaryProbability => vec![1.0 - v[0], v[0]],
    }
}

fn head_of(task: &Task, loss: &str) -> Result<Head, TrainError> {
    Ok(match task {
        Task::Classification { class_names, .. } => Head::Classes {
            names: class_names.clone(),
            scores: match loss {
                "BCEWithLogitsLoss" => Scores::BinaryLogit,
                "BCELoss" => Scores::BinaryProbability,
                "NLLLoss" => Scores::LogProbabilities,
                _ => Scores::Logits,
            },
        },
        Task::Regression { target_scale, .. } => Head::Values(target_scale.clone()),
        Task::LanguageModel { .. } => {
            return Err(TrainError::Setup(
                "a language model predicts text: use `tuna generate RUN`".into(),
            ))
        }
    })
}

/// The predictions of a file, a batch at a time (see [`Predictor::predict_file`]).
pub struct PredictBatches<'p> {
    predictor: &'p Predictor,
    rows: Box<dyn PredictRows>,
    batch_size: usize,
    done: bool,
}

impl Iterator for PredictBatches<'_> {
    type Item = Result<Vec<Prediction>, TrainError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut chunk = Vec::with_capacity(self.batch_size);
        for r in self.rows.by_ref() {
            match r {
                Ok(row) => chunk.push(row),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e.into()));
                }
            }
            if chunk.len() == self.batch_size {
                break;
            }
        }
        if chunk.is_empty() {
            self.done = true;
            return None;
        }
        let kind = self.rows.input_kind();
        Some(self.predictor.predict_rows(&kind, chunk))
    }
}

/// Rows to predict as a dataset without targets (class 0 stands in for the target).
#[derive(Debug)]
struct RowsDataset {
    kind: InputKind,
    rows: Vec<PredictRow>,
}

impl Dataset for RowsDataset {
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn input_kind(&self) -> InputKind {
        self.kind.clone()
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::Class { num_classes: 1 }
    }
    fn get(&self, index: usize) -> Sample<'_> {
        let input = match &self.rows[index].input {
            Input::Dense(v) => Input::Dense(std::borrow::Cow::Borrowed(v)),
            Input::Tokens(v) => Input::Tokens(std::borrow::Cow::Borrowed(v)),
        };
        Sample {
            input,
            target: Target::Class(0),
        }
    }
}

/// A tensor of class probabilities from logits, for code that predicts without a run folder.
pub fn softmax_rows(logits: &Tensor) -> Vec<Vec<f64>> {
    let shape = logits.shape();
    let c = *shape.last().unwrap_or(&1);
    logits
        .to_vec_f64()
        .chunks(c.max(1))
        .map(|r| probabilities(Scores::Logits, r))
        .collect()
}
