//! One step's forward half: a batch through the model (with its lengths), the targets as the
//! loss takes them, the loss and the regularizer penalties; and evaluation without a graph.

use std::sync::Arc;

use tuna_autograd::{no_grad, NamedParam, Tape, Var};
use tuna_data::{Batch, DataLoader, Dataset, TargetScale, Task};
use tuna_loss::Loss;
use tuna_nn::{ForwardContext, Module};
use tuna_regularize::Regularizer;
use tuna_tensor::{DType, Tensor};

use crate::error::TrainError;
use crate::metrics::{MetricAccumulator, MetricSet};

/// How a task's model outputs meet the loss and the metrics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskInfo {
    /// Two classes scored by one output per sample: the score threshold of class 1 (0 for
    /// logits with `BCEWithLogitsLoss`, 0.5 for probabilities with `BCELoss`).
    pub binary: Option<f64>,
    /// A language model: outputs `[batch, length, vocab]` and targets `[batch, length]` are
    /// flattened to `[batch·length, vocab]` and `[batch·length]` for the loss.
    pub language_model: bool,
    /// Standardized regression targets: losses and metrics are reported in the original
    /// units (`y = y' · std + mean`).
    pub target_scale: Option<TargetScale>,
}

impl TaskInfo {
    /// What the trainer needs to know about `task` trained with `loss`.
    pub fn new(task: &Task, loss: &dyn Loss) -> Self {
        TaskInfo {
            binary: binary_scores(loss.name()),
            language_model: matches!(task, Task::LanguageModel { .. }),
            target_scale: match task {
                Task::Regression { target_scale, .. } => target_scale.clone(),
                _ => None,
            },
        }
    }
}

/// For a loss that scores two classes with one output per sample, the score threshold of
/// class 1: 0 for `BCEWithLogitsLoss` (logits), 0.5 for `BCELoss` (probabilities).
pub fn binary_scores(loss: &str) -> Option<f64> {
    match loss {
        "BCEWithLogitsLoss" => Some(0.0),
        "BCELoss" => Some(0.5),
        _ => None,
    }
}

/// The batch through the model: `model.forward_with` with the batch's lengths when its
/// samples are padded token sequences, `model.forward` otherwise.
pub fn forward<'t>(model: &dyn Module, tape: &'t Tape, batch: &Batch) -> Var<'t> {
    let x = tape.constant(batch.inputs.clone());
    match &batch.lengths {
        Some(l) => model.forward_with(x, &ForwardContext::with_lengths(l.clone())),
        None => model.forward(x),
    }
}

/// The (output, target) pair the loss takes: class indices as they are, float 0/1 targets of
/// the output's shape for the binary losses, and flattened token positions for a language
/// model.
pub fn loss_pair<'t>(info: &TaskInfo, out: Var<'t>, targets: &Tensor) -> (Var<'t>, Var<'t>) {
    let tape = out.tape();
    if info.language_model {
        let shape = out.shape();
        let vocab = *shape
            .last()
            .expect("a language model's output has a vocabulary axis");
        let flat = out.reshape(&[-1, vocab as isize]);
        return (flat, tape.constant(targets.reshape(&[-1])));
    }
    if info.binary.is_some() && targets.dtype() == DType::I64 {
        let t = targets.to_dtype(DType::F32);
        let shape = out.shape();
        if t.numel() == shape.iter().product::<usize>() {
            let s: Vec<isize> = shape.iter().map(|&d| d as isize).collect();
            return (out, tape.constant(t.reshape(&s)));
        }
        return (out, tape.constant(t));
    }
    (out, tape.constant(targets.clone()))
}

/// A step's forward half on `tape`: the model's output, the loss (what is reported) and the
/// total with the regularizer penalties (what is differentiated), and the penalties' sum.
pub struct Forward<'t> {
    /// The model's output.
    pub output: Var<'t>,
    /// The loss of the batch.
    pub loss: Var<'t>,
    /// Loss plus penalties.
    pub total: Var<'t>,
    /// The penalties' value.
    pub penalty: f64,
}

/// Runs the forward half of a training step.
///
/// # Errors
/// A loss that cannot take the model's output.
pub fn forward_loss<'t>(
    model: &dyn Module,
    loss: &dyn Loss,
    regularizers: &[Box<dyn Regularizer>],
    params: &[NamedParam],
    info: &TaskInfo,
    tape: &'t Tape,
    batch: &Batch,
) -> Result<Forward<'t>, TrainError> {
    let output = forward(model, tape, batch);
    let (input, target) = loss_pair(info, output, &batch.targets);
    let l = loss.forward(input, target).map_err(TrainError::loss)?;
    let mut total = l;
    let mut penalty = 0.0;
    for r in regularizers {
        if let Some(p) = r.penalty_for_params(tape, params) {
            penalty += p.item();
            total = total.add(p);
        }
    }
    Ok(Forward {
        output,
        loss: l,
        total,
        penalty,
    })
}

/// `t · std + mean` along the last axis (regression targets back to the original units).
pub fn unscale(t: &Tensor, scale: &TargetScale) -> Tensor {
    let mut v = t.to_vec::<f32>();
    scale.invert(&mut v);
    Tensor::from_vec(v, t.shape())
}

/// The loss to report and the metrics' update for one batch: in the original units when the
/// targets were standardized (the loss recomputed on de-standardized values, without a
/// graph), as computed otherwise.
///
/// # Errors
/// A loss or metric that cannot take the batch.
pub fn report(
    loss: &dyn Loss,
    info: &TaskInfo,
    metrics: &mut MetricAccumulator,
    output: &Tensor,
    targets: &Tensor,
    loss_value: f64,
) -> Result<f64, TrainError> {
    let Some(scale) = &info.target_scale else {
        metrics
            .update(output, targets)
            .map_err(TrainError::metrics)?;
        return Ok(loss_value);
    };
    let (o, t) = (unscale(output, scale), unscale(targets, scale));
    metrics.update(&o, &t).map_err(TrainError::metrics)?;
    no_grad(|| {
        let tape = Tape::new();
        let l = loss
            .forward(tape.constant(o), tape.constant(t))
            .map_err(TrainError::loss)?;
        Ok(l.item())
    })
}

/// Mean loss and metrics of `model` on `dataset`, in eval mode and without a graph.
///
/// # Errors
/// A loss that cannot take the model's output.
pub fn evaluate(
    model: &mut dyn Module,
    loss: &dyn Loss,
    metrics: &MetricSet,
    info: &TaskInfo,
    dataset: &Arc<dyn Dataset>,
    batch_size: usize,
) -> Result<(f64, MetricAccumulator), TrainError> {
    model.set_training(false);
    let loader = DataLoader::new(dataset.clone(), batch_size, false, false, 0);
    let mut acc = metrics.accumulator();
    let (mut sum, mut n) = (0.0, 0.0f64);
    let result = no_grad(|| -> Result<(), TrainError> {
        for batch in loader.epoch(0) {
            let tape = Tape::new();
            let out = forward(model, &tape, &batch);
            let (input, target) = loss_pair(info, out, &batch.targets);
            let l = loss.forward(input, target).map_err(TrainError::loss)?;
            let w = weight(info, &batch);
            let reported = report(loss, info, &mut acc, &out.value(), &batch.targets, l.item())?;
            sum += reported * w;
            n += w;
        }
        Ok(())
    });
    model.set_training(true);
    result?;
    Ok((sum / n.max(1.0), acc))
}

/// What a batch's mean loss is averaged over: samples, or real tokens for a language model.
pub fn weight(info: &TaskInfo, batch: &Batch) -> f64 {
    if info.language_model {
        batch
            .targets
            .contiguous_data::<i64>()
            .iter()
            .filter(|&&t| t != tuna_data::IGNORE_INDEX)
            .count() as f64
    } else {
        batch.len() as f64
    }
}
