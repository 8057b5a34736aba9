//! Training signals for diagnosis: per epoch, per parameter tensor the gradient norm, weight
//! norm and update/weight ratio; per ReLU layer the share of dead units, per Sigmoid/Tanh layer
//! the share of saturated outputs; where step time went; loss spikes within the epoch; how
//! confidently the model's outputs agree with the training labels; and per-class counts on
//! validation. [`SignalsRecorder`] (a [`Callback`], on by default in `tuna train`) writes one
//! [`EpochSignals`] line per epoch to the run folder's `signals.jsonl`, next to
//! `metrics.jsonl`, and measures the training split once before training
//! ([`DataProfile`], `data_profile.json`).
//!
//! Cost: gradient and update norms are taken on at most [`SAMPLES_PER_EPOCH`] evenly spaced
//! steps per epoch, on an evenly strided sample of about [`EXACT_UP_TO`] elements of each
//! larger tensor; dead units, saturation, label agreement and per-layer forward times on one
//! probe batch (class counts come free from the trainer's validation pass), on the epochs
//! [`probe_due`] names: the
//! first, every [`probe_period`] epochs (so that the probes' forward passes stay near
//! [`COST_BUDGET`] of training) and the final one (the last planned epoch, or early
//! stopping's). The schedule depends only on the run, never on measured time, so a run
//! probes the same epochs (and gets the same diagnosis) on a busy machine and a quiet one,
//! resumed or not. Each
//! epoch's `timing.recording` is the recorder's own measured cost. Recording never changes
//! what is trained: the probes run in
//! eval mode, and a run with signals on ends with the same weights as one with them off (a
//! test checks it).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tuna_autograd::NamedParam;
use tuna_data::{DataLoader, Dataset};
use tuna_nn::Module;
use tuna_tensor::{DType, Tensor};

use crate::callback::{Callback, Flow, RunInfo, StepInfo};
use crate::diagnose::DiagnoseError;
use crate::metrics::MetricAccumulator;
use crate::record::{EpochRecord, Value};
use crate::trainer::TaskInfo;

mod probe;
mod profile;

pub use probe::{ClassStats, FitStats, Saturation, SATURATED_WITHIN};
pub use profile::{read_profile, DataProfile, InputProfile, TargetProfile, PROFILE_SAMPLES};

/// Steps per epoch on which gradient and update norms are measured.
pub const SAMPLES_PER_EPOCH: usize = 8;

/// Training samples in the probe batch (a unit is dead when it outputs zero for all of them).
pub const PROBE_SAMPLES: usize = 256;

/// The share of training compute the periodic probes aim at ([`probe_period`]).
pub const COST_BUDGET: f64 = 0.01;

/// Epochs between periodic probes, so that their forward passes cost about [`COST_BUDGET`]
/// of training: a probe is `probe_samples` forward passes, an epoch about three
/// forward-equivalents (forward and backward) per training sample. At least 1.
pub fn probe_period(probe_samples: usize, samples_per_epoch: usize) -> usize {
    let share = probe_samples as f64 / (3.0 * samples_per_epoch.max(1) as f64);
    ((share / COST_BUDGET).ceil() as usize).max(1)
}

/// Whether the probes run at the end of `epoch` (from 1): the first epoch, every `period`
/// epochs, and the `last` one training ends with.
pub fn probe_due(epoch: usize, period: usize, last: bool) -> bool {
    epoch == 1 || last || epoch % period.max(1) == 0
}

/// Gradient and weight statistics of one parameter tensor over an epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamSignals {
    /// Mean L2 norm of the gradient over the sampled steps.
    pub grad_norm: Value,
    /// Largest sampled gradient norm.
    pub grad_norm_max: Value,
    /// L2 norm of the weights at the end of the epoch.
    pub weight_norm: Value,
    /// Mean of ‖w_after − w_before‖ / ‖w_before‖ over the sampled steps (the size of one
    /// update relative to the weights; ~1e-3 is typical of healthy training).
    pub update_ratio: Value,
    /// Number of elements.
    pub numel: usize,
}

/// Dead units of one activation layer on the probe batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadUnits {
    /// The layer's type (`ReLU`).
    pub layer_type: String,
    /// Units (features, or channels for images) whose output is zero for every probe sample
    /// (and position).
    pub dead: usize,
    /// Units in the layer.
    pub units: usize,
    /// `dead / units`.
    pub fraction: f64,
}

/// One top-level layer's forward time on the probe batch (eval mode).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerTime {
    /// The layer's type (`Conv2d`, `Linear`, ...).
    pub layer_type: String,
    /// Seconds of its forward pass on the probe batch.
    pub seconds: f64,
}

/// Where an epoch's wall time went, in seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Fetching and collating batches.
    pub data: f64,
    /// Forward passes, losses and penalties.
    pub forward: f64,
    /// Backward passes.
    pub backward: f64,
    /// Clipping, optimizer steps, constraints, schedules.
    pub optimizer: f64,
    /// Everything else: evaluation, metrics, checkpoints, callbacks.
    pub other: f64,
    /// Time this recorder itself spent (norms, weight snapshots, the dead-unit probe), part
    /// of `optimizer` and `other`: its cost, measured in every run.
    #[serde(default)]
    pub recording: f64,
}

/// One loss spike: a batch whose loss jumped well above the recent average.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spike {
    /// The batch within the epoch.
    pub batch: usize,
    /// Its loss.
    pub loss: Value,
    /// The running average just before it.
    pub before: Value,
}

/// Statistics of the batch losses within an epoch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LossStats {
    /// Mean batch loss.
    pub mean: f64,
    /// Standard deviation of the batch losses.
    pub std: f64,
    /// Smallest batch loss.
    pub min: f64,
    /// Largest batch loss.
    pub max: f64,
    /// Mean of the first tenth of the epoch's batches.
    pub first: f64,
    /// Mean of the last tenth.
    pub last: f64,
    /// Batches whose loss exceeded 2x the running average (after the first 10 batches).
    pub spikes: Vec<Spike>,
}

/// Everything recorded about one epoch (`signals.jsonl` line).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochSignals {
    /// The epoch (from 1).
    pub epoch: usize,
    /// Optimizer steps in the epoch.
    pub steps: usize,
    /// Per parameter tensor, by state-dict name.
    pub params: BTreeMap<String, ParamSignals>,
    /// Whether the probes ran this epoch ([`probe_due`]).
    #[serde(default)]
    pub probed: bool,
    /// Per ReLU layer, by module name (`"2"`, `"encoder.1"`).
    pub dead_units: BTreeMap<String, DeadUnits>,
    /// Per Sigmoid/Tanh layer of a `Sequential`, by index.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub saturation: BTreeMap<String, Saturation>,
    /// The outputs against the labels on the training probe (classification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_fit: Option<FitStats>,
    /// Class counts on the validation split, from the trainer's evaluation pass
    /// (classification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_classes: Option<ClassStats>,
    /// Forward time of each top-level layer of a `Sequential` on the probe batch, by index:
    /// which layer dominates the compute.
    #[serde(default)]
    pub layer_forward: BTreeMap<String, LayerTime>,
    /// Time split.
    pub timing: Timing,
    /// Batch-loss statistics.
    pub loss: LossStats,
}

#[derive(Default)]
struct ParamAcc {
    grad_sum: f64,
    grad_max: f64,
    grad_n: usize,
    ratio_sum: f64,
    ratio_n: usize,
}

/// Records [`EpochSignals`] during training and appends them to `signals.jsonl`.
pub struct SignalsRecorder {
    path: Option<PathBuf>,
    probe: Option<tuna_data::Batch>,
    /// The confusion counts of the latest validation pass.
    val_counts: Option<Vec<Vec<u64>>>,
    info: TaskInfo,
    profile: Option<DataProfile>,
    /// The periodic probe interval, and whether this epoch is the final one ([`probe_due`]).
    period: usize,
    last: bool,
    /// Time spent before training (profiling the data, building the probes), reported in the
    /// first epoch's `timing.recording`.
    setup: f64,
    probed: bool,
    saturation: BTreeMap<String, Saturation>,
    fit: Option<FitStats>,
    classes: Option<ClassStats>,
    every: usize,
    acc: BTreeMap<String, ParamAcc>,
    /// The strided samples of every weight before the sampled step.
    before: Option<Vec<Vec<f64>>>,
    timing: Timing,
    losses: Vec<f64>,
    spikes: Vec<Spike>,
    ema: Option<f64>,
    history: Vec<EpochSignals>,
    epoch_start: std::time::Instant,
    dead: BTreeMap<String, DeadUnits>,
    layer_time: BTreeMap<String, LayerTime>,
    own: f64,
}

impl std::fmt::Debug for SignalsRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalsRecorder")
            .field("path", &self.path)
            .field("epochs", &self.history.len())
            .finish_non_exhaustive()
    }
}

/// Tensors up to this many elements are measured exactly; larger ones through an evenly
/// strided sample of about this many elements.
pub const EXACT_UP_TO: usize = 4096;

/// The stride that samples about [`EXACT_UP_TO`] elements of `n`.
fn stride(n: usize) -> usize {
    n.div_ceil(EXACT_UP_TO).max(1)
}

/// Every `stride`-th element of `t` (row-major), as f64.
fn sample(t: &Tensor, stride: usize) -> Vec<f64> {
    match t.dtype() {
        DType::F32 => t
            .contiguous_data::<f32>()
            .iter()
            .step_by(stride)
            .map(|&x| x as f64)
            .collect(),
        _ => t.to_vec_f64().into_iter().step_by(stride).collect(),
    }
}

/// ‖t‖₂: exact for small tensors, else estimated from a strided sample scaled by
/// `sqrt(n / sampled)` (an unbiased estimate of the squared norm for the spread-out
/// values of weights and gradients; exact order of magnitude is what the detectors use).
fn norm(t: &Tensor) -> f64 {
    let n = t.numel();
    let s = sample(t, stride(n));
    let scale = n as f64 / s.len().max(1) as f64;
    (sum_sq(s.iter().copied()) * scale).sqrt()
}

/// ‖t‖₂ of every element (once per epoch).
fn full_norm(t: &Tensor) -> f64 {
    match t.dtype() {
        DType::F32 => sum_sq(t.contiguous_data::<f32>().iter().map(|&x| x as f64)),
        _ => sum_sq(t.to_vec_f64().into_iter()),
    }
    .sqrt()
}

fn sum_sq(values: impl Iterator<Item = f64>) -> f64 {
    // Four partial sums let the compiler vectorize the loop.
    let mut acc = [0.0f64; 4];
    for (i, v) in values.enumerate() {
        acc[i & 3] += v * v;
    }
    acc.iter().sum()
}

/// The first batch of up to `n` samples of `data`, spread over it (its order shuffled with a
/// fixed seed, so that a file sorted by class still gives every class).
fn probe_batch(data: &Arc<dyn Dataset>, n: usize) -> Option<tuna_data::Batch> {
    let loader = DataLoader::new(data.clone(), n.min(data.len()).max(1), true, false, 0x5eed);
    loader.try_epoch_from(0, 0).next().and_then(Result::ok)
}

impl SignalsRecorder {
    /// A recorder writing to `path` (`None`: keep in memory only), probing with up to
    /// [`PROBE_SAMPLES`] samples of `probe_data` (the training split), which it also profiles
    /// ([`DataProfile`], written next to `path` as `data_profile.json`).
    pub fn new(path: Option<PathBuf>, probe_data: Option<&Arc<dyn Dataset>>) -> Self {
        let started = std::time::Instant::now();
        let probe = probe_data.and_then(|d| probe_batch(d, PROBE_SAMPLES));
        let profile = probe_data.map(|d| DataProfile::measure(d.as_ref(), None));
        SignalsRecorder {
            path,
            probe,
            val_counts: None,
            info: TaskInfo::default(),
            profile,
            period: 1,
            last: false,
            setup: started.elapsed().as_secs_f64(),
            probed: false,
            saturation: BTreeMap::new(),
            fit: None,
            classes: None,
            every: 1,
            acc: BTreeMap::new(),
            before: None,
            timing: Timing::default(),
            losses: Vec::new(),
            spikes: Vec::new(),
            ema: None,
            history: Vec::new(),
            epoch_start: std::time::Instant::now(),
            dead: BTreeMap::new(),
            layer_time: BTreeMap::new(),
            own: 0.0,
        }
    }

    /// Notes the validation split's size for the data profile and how the model's outputs
    /// read (`info`: logits or probabilities, a language model). The class counts come from
    /// the trainer's own validation pass ([`Callback::on_validation`]), at no extra forward
    /// pass.
    pub fn with_validation(
        mut self,
        validation: Option<&Arc<dyn Dataset>>,
        info: &TaskInfo,
    ) -> Self {
        let started = std::time::Instant::now();
        self.info = info.clone();
        if let (Some(p), Some(v)) = (&mut self.profile, validation) {
            p.validation_samples = v.len();
        }
        self.setup += started.elapsed().as_secs_f64();
        self
    }

    /// The signals of every epoch recorded by this process.
    pub fn history(&self) -> &[EpochSignals] {
        &self.history
    }

    /// The training split's profile.
    pub fn profile(&self) -> Option<&DataProfile> {
        self.profile.as_ref()
    }

    fn profile_path(&self) -> Option<PathBuf> {
        Some(self.path.as_ref()?.with_file_name("data_profile.json"))
    }

    fn sampled(&self, batch: usize) -> bool {
        batch % self.every == 0
    }

    fn write(&self, signals: &EpochSignals) {
        if let Some(path) = &self.path {
            if let Ok(line) = serde_json::to_string(signals) {
                use std::io::Write;
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                {
                    let _ = writeln!(f, "{line}");
                }
            }
        }
    }
}

impl Callback for SignalsRecorder {
    fn on_train_begin(&mut self, info: &RunInfo) {
        self.every = (info.batches_per_epoch / SAMPLES_PER_EPOCH).max(1);
        let probed = self.probe.as_ref().map_or(0, |b| b.len());
        self.period = probe_period(probed, info.samples_per_epoch);
        if let (Some(path), Some(p)) = (self.profile_path(), &self.profile) {
            if let Ok(text) = serde_json::to_string_pretty(p) {
                let _ = std::fs::write(path, text);
            }
        }
        // After a resume, drop lines of epochs the checkpoint does not include.
        if let Some(path) = &self.path {
            if let Ok(text) = std::fs::read_to_string(path) {
                let kept: Vec<&str> = text
                    .lines()
                    .filter(|l| {
                        serde_json::from_str::<EpochSignals>(l)
                            .map(|s| s.epoch < info.first_epoch)
                            .unwrap_or(false)
                    })
                    .collect();
                let mut body = kept.join("\n");
                if !body.is_empty() {
                    body.push('\n');
                }
                let _ = std::fs::write(path, body);
            }
        }
    }

    fn on_epoch_begin(&mut self, _epoch: usize, _batches: usize) {
        self.acc.clear();
        self.timing = Timing::default();
        self.losses.clear();
        self.spikes.clear();
        self.ema = None;
        self.own = 0.0;
        self.epoch_start = std::time::Instant::now();
    }

    fn on_after_backward(&mut self, _epoch: usize, batch: usize, params: &[NamedParam]) {
        if !self.sampled(batch) {
            return;
        }
        let t = std::time::Instant::now();
        let mut before = Vec::with_capacity(params.len());
        for (name, p) in params {
            if let Some(g) = p.grad() {
                let n = norm(&g);
                let a = self.acc.entry(name.clone()).or_default();
                a.grad_sum += n;
                a.grad_max = a.grad_max.max(n);
                a.grad_n += 1;
            }
            let v = p.value();
            before.push(sample(&v, stride(v.numel())));
        }
        self.before = Some(before);
        self.own += t.elapsed().as_secs_f64();
    }

    fn on_batch_end(&mut self, step: &StepInfo, model: &dyn Module) -> Flow {
        let started = std::time::Instant::now();
        let t = &step.timing;
        self.timing.data += t.data.as_secs_f64();
        self.timing.forward += t.forward.as_secs_f64();
        self.timing.backward += t.backward.as_secs_f64();
        self.timing.optimizer += t.optimizer.as_secs_f64();
        if let Some(ema) = self.ema {
            if self.losses.len() >= 10 && step.loss > 2.0 * ema && step.loss > ema + 1e-3 {
                self.spikes.push(Spike {
                    batch: step.batch,
                    loss: Value(step.loss),
                    before: Value(ema),
                });
            }
        }
        self.ema = Some(match self.ema {
            None => step.loss,
            Some(e) => 0.9 * e + 0.1 * step.loss,
        });
        self.losses.push(step.loss);
        if let Some(before) = self.before.take() {
            // The same strided elements before and after: the ratio of the two sampled norms
            // estimates ‖Δw‖ / ‖w‖.
            for ((name, p), old) in model.named_parameters().iter().zip(&before) {
                let v = p.value();
                let new = sample(&v, stride(v.numel()));
                let wn = sum_sq(old.iter().copied()).sqrt();
                if wn > 0.0 {
                    let dn = sum_sq(new.iter().zip(old).map(|(a, b)| a - b)).sqrt();
                    let a = self.acc.entry(name.clone()).or_default();
                    a.ratio_sum += dn / wn;
                    a.ratio_n += 1;
                }
            }
        }
        self.own += started.elapsed().as_secs_f64();
        Flow::Continue
    }

    fn on_final_epoch(&mut self, _epoch: usize) {
        self.last = true;
    }

    fn on_validation(&mut self, _epoch: usize, metrics: &MetricAccumulator) {
        self.val_counts = if self.info.language_model {
            None
        } else {
            metrics.class_counts()
        };
    }

    fn on_eval_epoch_end(&mut self, epoch: usize, model: &dyn Module) {
        // In eval mode the probe draws no dropout mask and updates no running statistic, so
        // recording never changes the training trajectory.
        self.probed = false;
        if !probe_due(epoch, self.period, std::mem::take(&mut self.last)) {
            return;
        }
        let t = std::time::Instant::now();
        if let Some(batch) = &self.probe {
            let r = probe::probe_train(model, batch, &self.info);
            (self.dead, self.saturation, self.layer_time, self.fit) =
                (r.dead, r.saturation, r.times, r.fit);
            self.probed = true;
        }
        self.classes = self.val_counts.take().map(ClassStats::from_counts);
        self.own += t.elapsed().as_secs_f64();
    }

    fn on_epoch_end(&mut self, record: &EpochRecord, model: &dyn Module) -> Flow {
        let started = std::time::Instant::now();
        let mut params = BTreeMap::new();
        for (name, p) in model.named_parameters() {
            let a = self.acc.remove(&name).unwrap_or_default();
            let v = p.value();
            params.insert(
                name,
                ParamSignals {
                    grad_norm: Value(a.grad_sum / a.grad_n.max(1) as f64),
                    grad_norm_max: Value(a.grad_max),
                    weight_norm: Value(full_norm(&v)),
                    update_ratio: Value(a.ratio_sum / a.ratio_n.max(1) as f64),
                    numel: v.numel(),
                },
            );
        }
        let n = self.losses.len().max(1) as f64;
        let mean = self.losses.iter().sum::<f64>() / n;
        let var = self
            .losses
            .iter()
            .map(|l| (l - mean) * (l - mean))
            .sum::<f64>()
            / n;
        let tenth = (self.losses.len() / 10).max(1);
        let avg = |s: &[f64]| s.iter().sum::<f64>() / s.len().max(1) as f64;
        let k = self.losses.len();
        let loss = LossStats {
            mean,
            std: var.sqrt(),
            min: self.losses.iter().copied().fold(f64::INFINITY, f64::min),
            max: self
                .losses
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max),
            first: avg(&self.losses[..tenth.min(k)]),
            last: avg(&self.losses[k.saturating_sub(tenth)..]),
            spikes: std::mem::take(&mut self.spikes),
        };
        let busy =
            self.timing.data + self.timing.forward + self.timing.backward + self.timing.optimizer;
        let wall = record
            .get("seconds")
            .unwrap_or_else(|| self.epoch_start.elapsed().as_secs_f64());
        let mut timing = self.timing.clone();
        timing.other = (wall - busy).max(0.0);
        timing.recording =
            self.own + std::mem::take(&mut self.setup) + started.elapsed().as_secs_f64();
        let signals = EpochSignals {
            epoch: record.epoch,
            steps: self.losses.len(),
            params,
            probed: std::mem::take(&mut self.probed),
            dead_units: std::mem::take(&mut self.dead),
            saturation: std::mem::take(&mut self.saturation),
            train_fit: self.fit.take(),
            val_classes: self.classes.take(),
            layer_forward: std::mem::take(&mut self.layer_time),
            timing,
            loss,
        };
        self.write(&signals);
        self.history.push(signals);
        Flow::Continue
    }
}

/// Reads a `signals.jsonl` file (missing file: no signals).
///
/// # Errors
/// The file cannot be read, or a line does not parse (the error names the line).
pub fn read_signals(path: &std::path::Path) -> Result<Vec<EpochSignals>, DiagnoseError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(DiagnoseError::Parse {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        }
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| DiagnoseError::Parse {
                path: path.to_path_buf(),
                reason: format!("line {}: {e}", i + 1),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_schedule_depends_only_on_the_run_shape() {
        // MNIST-sized: 256 probe samples against 7,200 training samples an epoch
        assert_eq!(probe_period(256, 7200), 2);
        // a table smaller than the probe: periodic probes would cost more than training
        assert_eq!(probe_period(120, 90), 45);
        assert_eq!(probe_period(0, 0), 1);
        let due: Vec<usize> = (1..=100).filter(|&e| probe_due(e, 45, e == 78)).collect();
        assert_eq!(due, [1, 45, 78, 90]);
        let due: Vec<usize> = (1..=10).filter(|&e| probe_due(e, 1, false)).collect();
        assert_eq!(due, (1..=10).collect::<Vec<_>>());
    }

    #[test]
    fn sampled_norms_match_exact_ones_on_weight_like_tensors() {
        let mut g = tuna_tensor::Generator::new(3);
        for n in [10usize, 4096, 5000, 100_000, 401_408] {
            let t = Tensor::randn(&[n], DType::F32, &mut g);
            let exact = full_norm(&t);
            let est = norm(&t);
            let tol = if n <= EXACT_UP_TO { 1e-9 } else { 0.05 };
            assert!((est / exact - 1.0).abs() < tol, "n={n}: {est} vs {exact}");
        }
    }
}
