//! Building a run from an experiment: the data, the model (sizes filled from the data, shapes
//! checked), the loss against the task, metrics, optimizer, schedule and early stopping —
//! every check that can fail before any work is done.

use tuna_data::{DataContext, DataLoader, DataSplits, InputKind, Task};
use tuna_loss::Loss;
use tuna_nn::{build_checked, DataInfo, LayerConfig, Module};
use tuna_regularize::{EarlyStopping, Mode};

use super::step::TaskInfo;
use super::update::Schedule;
use crate::error::TrainError;
use crate::experiment::{Experiment, StepInterval};
use crate::metrics::MetricSet;

fn setup(e: impl std::fmt::Display) -> TrainError {
    TrainError::Setup(e.to_string())
}

/// Everything a run is built from.
pub(super) struct Built {
    pub splits: DataSplits,
    pub model: Box<dyn Module>,
    pub metrics: MetricSet,
    pub info: TaskInfo,
    pub loader: DataLoader,
    pub schedule: Option<Schedule>,
    pub early: Option<EarlyStopping>,
    pub monitor: (String, Mode),
    pub optimizer: Box<dyn tuna_optim::Optimizer>,
    /// What was filled in or decided that the user should hear about.
    pub notes: Vec<String>,
}

/// Loads the data and builds every piece, checking that they fit together. The model spec
/// in `exp` gets the sizes the data fills in (so the run folder records them).
pub(super) fn build(exp: &mut Experiment, ctx: &DataContext) -> Result<Built, TrainError> {
    let ctx = DataContext {
        seed: exp.seed,
        ..ctx.clone()
    };
    let splits = exp.data.load(&ctx)?;
    if splits.train.is_empty() {
        return Err(setup("data: the training split is empty"));
    }
    check_loss_fits_task(exp.loss.as_ref(), &splits.task)?;
    if splits.train.mixes_targets() && exp.loss.name() != "CrossEntropyLoss" {
        return Err(setup(format!(
            "loss: MixUp and CutMix in data.train_transforms make the targets class \
             probabilities, which only CrossEntropyLoss takes (got {})",
            exp.loss.name()
        )));
    }
    let input = splits.train.input_kind();
    let binary = super::step::binary_scores(exp.loss.name()).is_some();
    exp.model = fill_model(
        exp.model.as_ref(),
        &input,
        task_outputs(&splits.task, binary),
    )?;
    let mut sample = vec![1usize];
    sample.extend(input.sample_shape());
    let model = build_checked(exp.model.as_ref(), &sample, exp.seed)?;
    tuna_nn::apply_initializers(&exp.init, model.as_ref(), exp.seed)?;
    let out = exp.model.output_shape("model", &sample)?;
    let info = TaskInfo::new(&splits.task, exp.loss.as_ref());
    check_output(&out, &splits.task, info.binary.is_some())?;
    let mut metrics = MetricSet::parse(&exp.train.metrics, &splits.task)?;
    if let Some(threshold) = info.binary {
        metrics = metrics.with_binary_threshold(threshold);
    }
    let optimizer = exp
        .optimizer
        .config
        .build(model.named_parameters(), &exp.optimizer.param_groups)?;
    let loader = DataLoader::train(splits.train.clone(), &exp.loader, exp.seed);
    if loader.batches_per_epoch() == 0 {
        return Err(setup(format!(
            "loader: {} training samples make no batch of {} with drop_last",
            splits.train.len(),
            exp.loader.batch_size
        )));
    }
    let has_val = splits.validation.is_some();
    let mut notes = splits.notes.clone();
    if let Some(n) = oversubscribed(exp) {
        notes.push(n);
    }
    let schedule = build_schedule(
        exp,
        &optimizer.lrs(),
        loader.batches_per_epoch(),
        &metrics,
        has_val,
        &mut notes,
    )?;
    let early = match &exp.train.early_stopping {
        None => None,
        Some(cfg) => {
            check_monitor(
                "train.early_stopping.monitor",
                &cfg.monitor,
                &metrics,
                has_val,
            )?;
            Some(
                cfg.build()
                    .map_err(|e| setup(format!("train.early_stopping: {e}")))?,
            )
        }
    };
    let monitor = match &early {
        Some(e) => (e.config().monitor.clone(), e.mode()),
        None if has_val => ("val_loss".to_string(), Mode::Min),
        None => ("train_loss".to_string(), Mode::Min),
    };
    Ok(Built {
        splits,
        model,
        metrics,
        info,
        loader,
        schedule,
        early,
        monitor,
        optimizer,
        notes,
    })
}

/// A note when the loader's worker threads plus the compute threads exceed the cores: the
/// workers then take turns with the kernels instead of running beside them.
fn oversubscribed(exp: &Experiment) -> Option<String> {
    let workers = exp.loader.num_workers;
    let compute = exp.train.threads.unwrap_or_else(tuna_tensor::num_threads);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (workers > 0 && workers + compute > cores).then(|| {
        format!(
            "loader.num_workers = {workers} plus {compute} compute thread(s) is more than the \
             {cores} core(s): loading and compute will take turns; lower train.threads or \
             loader.num_workers if steps slow down"
        )
    })
}

/// The width of the model's output the task needs.
fn task_outputs(task: &Task, binary: bool) -> usize {
    match task {
        Task::Classification { .. } if binary => 1,
        Task::Classification { num_classes, .. } => *num_classes,
        Task::Regression { outputs, .. } => *outputs,
        Task::LanguageModel { vocab_size } => *vocab_size,
    }
}

/// The model spec with the sizes the data determines filled in (the vocabulary, the longest
/// sequence, the output width), after checking that the data's inputs are what the model's
/// first layer takes.
fn fill_model(
    spec: &(dyn LayerConfig + 'static),
    input: &InputKind,
    outputs: usize,
) -> Result<Box<dyn LayerConfig>, TrainError> {
    let mut spec = dyn_clone::clone_box(spec);
    let mut info = DataInfo::new().with_outputs(outputs);
    match input {
        InputKind::Tokens {
            vocab_size,
            max_len,
            ..
        } => {
            if !spec.takes_token_ids() {
                return Err(setup(
                    "model: the data gives token ids (i64); the model's first layer must take \
                     them: start the model with { type = \"Embedding\", embedding_dim = ... } \
                     (num_embeddings is filled from the data's vocabulary)",
                ));
            }
            info = info.with_vocab_size(*vocab_size).with_max_len(*max_len);
        }
        InputKind::Dense { shape } => {
            if spec.takes_token_ids() {
                return Err(setup(format!(
                    "model: the model starts with an Embedding, which takes token ids, but the \
                     data gives f32 features of shape {shape:?}"
                )));
            }
        }
    }
    spec.fill_from_data(&info)?;
    Ok(spec)
}

/// What a loss takes as targets, for the built-in losses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LossTargets {
    Classes,
    Values,
    Other,
}

fn loss_targets(name: &str) -> LossTargets {
    match name {
        "CrossEntropyLoss"
        | "NLLLoss"
        | "FocalLoss"
        | "MultiMarginLoss"
        | "BCELoss"
        | "BCEWithLogitsLoss"
        | "LinearCrossEntropyLoss" => LossTargets::Classes,
        "MSELoss" | "L1Loss" | "SmoothL1Loss" | "HuberLoss" | "PoissonNLLLoss" => {
            LossTargets::Values
        }
        _ => LossTargets::Other,
    }
}

/// A loss that does not fit the data's task is caught before any work: a class loss on
/// regression targets trains at loss 0, a value loss on class labels fails mid-run.
fn check_loss_fits_task(loss: &dyn Loss, task: &Task) -> Result<(), TrainError> {
    let name = loss.name();
    let kind = loss_targets(name);
    let bad = match (kind, task) {
        (LossTargets::Classes, Task::Regression { .. }) => Some(format!(
            "loss: {name} takes class labels, but the data's targets are real values \
             (task = \"regression\"): use MSELoss, L1Loss or HuberLoss, or set \
             data.task = \"classification\" if the targets are classes"
        )),
        (LossTargets::Values, Task::Classification { .. }) => Some(format!(
            "loss: {name} takes real-valued targets, but the data's targets are class labels: \
             use CrossEntropyLoss (or BCEWithLogitsLoss for two classes with one output), or \
             set data.task = \"regression\" if the labels are values"
        )),
        (k, Task::LanguageModel { .. })
            if name != "CrossEntropyLoss" && k != LossTargets::Other =>
        {
            Some(format!(
                "loss: a language model is trained with CrossEntropyLoss over its vocabulary, \
                 got {name}"
            ))
        }
        _ => None,
    };
    bad.map_or(Ok(()), |b| Err(setup(b)))
}

/// Checks the model's output shape `out` (`[1, ...]`) against the task.
fn check_output(out: &[usize], task: &Task, binary: bool) -> Result<(), TrainError> {
    let per_sample: Vec<usize> = out[1..].to_vec();
    match task {
        Task::Classification { num_classes, .. } => {
            let one_score = per_sample.iter().product::<usize>() == 1;
            if binary && !(*num_classes == 2 && one_score) {
                return Err(setup(format!(
                    "model: a binary loss (BCELoss, BCEWithLogitsLoss) needs 2 classes and one output per sample; \
                     the data has {num_classes} classes and the model outputs {per_sample:?} per sample \
                     (use CrossEntropyLoss for more classes)"
                )));
            }
            if !binary && per_sample.len() == 1 && per_sample[0] != *num_classes {
                return Err(setup(format!(
                    "model: outputs {} values per sample but the data has {num_classes} classes; \
                     set the last layer's out_features = {num_classes}",
                    per_sample[0]
                )));
            }
        }
        Task::Regression { outputs, .. } => {
            let got: usize = per_sample.iter().product();
            if got != *outputs {
                return Err(setup(format!(
                    "model: outputs {per_sample:?} per sample but the data has {outputs} target value(s)"
                )));
            }
        }
        Task::LanguageModel { vocab_size } => {
            if per_sample.len() != 2 || per_sample[1] != *vocab_size {
                return Err(setup(format!(
                    "model: a language model must output [length, {vocab_size}] per sample (a \
                     score per token of the vocabulary at every position), got {per_sample:?}; \
                     end with {{ type = \"Linear\", out_features = {vocab_size} }} on the \
                     sequence"
                )));
            }
        }
    }
    Ok(())
}

/// Builds the schedule, filling its length from the run (OneCycleLR's `total_steps`,
/// CosineAnnealingLR's `T_max`) and checking what a plateau schedule watches.
fn build_schedule(
    exp: &Experiment,
    base_lrs: &[f64],
    batches: usize,
    metrics: &MetricSet,
    has_val: bool,
    notes: &mut Vec<String>,
) -> Result<Option<Schedule>, TrainError> {
    let Some(s) = &exp.scheduler else {
        return Ok(None);
    };
    let mut cfg = s.config.clone();
    let (steps, what) = match s.interval {
        StepInterval::Batch => (
            exp.train.epochs * batches,
            format!("{} epochs × {batches} batches", exp.train.epochs),
        ),
        StepInterval::Epoch => (exp.train.epochs, format!("{} epochs", exp.train.epochs)),
    };
    let before = serde_json::to_value(&cfg).unwrap_or_default();
    cfg.fill_total_steps(steps as u64);
    let after = serde_json::to_value(&cfg).unwrap_or_default();
    if let (Some(a), Some(b)) = (after.as_object(), before.as_object()) {
        for (k, v) in a.iter().filter(|(k, v)| b.get(*k) != Some(*v)) {
            notes.push(format!(
                "scheduler.{k} is not set: filled with {v}, the run's scheduler steps ({what})"
            ));
        }
    }
    let sched = cfg.build(base_lrs)?;
    let monitor = s
        .monitor
        .clone()
        .unwrap_or_else(|| if has_val { "val_loss" } else { "train_loss" }.to_string());
    check_monitor("scheduler.monitor", &monitor, metrics, has_val)?;
    Ok(Some(Schedule {
        sched,
        interval: s.interval,
        plateau_monitor: monitor,
        cycles_momentum: cfg.cycles_momentum(),
    }))
}

/// Checks that a monitored metric (`val_loss`, `train_accuracy`) is recorded.
pub(super) fn check_monitor(
    field: &str,
    monitor: &str,
    metrics: &MetricSet,
    has_val: bool,
) -> Result<(), TrainError> {
    let (split, metric) = match monitor.split_once('_') {
        Some((s @ ("train" | "val"), m)) => (s, m),
        _ => {
            return Err(setup(format!(
                "{field}: `{monitor}` is not a recorded metric; use train_<metric> or val_<metric>, e.g. \"val_loss\""
            )))
        }
    };
    if metric != "loss" && !metrics.names().iter().any(|m| m == metric) {
        return Err(setup(format!(
            "{field}: `{monitor}` is not recorded; add \"{metric}\" to train.metrics (recorded: loss{})",
            metrics
                .names()
                .iter()
                .map(|m| format!(", {m}"))
                .collect::<String>()
        )));
    }
    if split == "val" && !has_val {
        return Err(setup(format!(
            "{field}: `{monitor}` needs a validation split; set data.validation (e.g. 0.1) or monitor train_{metric}"
        )));
    }
    Ok(())
}
