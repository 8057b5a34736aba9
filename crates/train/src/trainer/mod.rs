//! [`Trainer`]: runs an [`Experiment`] — the training loop with regularization,
//! constraints, clipping, schedules, evaluation, early stopping, callbacks, the run folder and
//! checkpoints/resume.
//!
//! The loop is split the way it reads: [`step`] (a batch forward, the loss and the penalties,
//! and evaluation), [`update`] (clipping, the optimizer step, constraints, the schedule),
//! `events` (callbacks, epoch totals, checkpoints) and `resume` (what a checkpoint holds and
//! restoring it). Setting up (data, model, every check before any work) is `setup`.

mod events;
mod resume;
mod setup;
pub mod step;
pub mod update;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tuna_autograd::{NamedParam, Tape};
use tuna_data::{DataContext, DataLoader, DataSplits, Dataset};
use tuna_nn::Module;
use tuna_optim::Optimizer;
use tuna_regularize::{EarlyStopping, Mode};
use tuna_tensor::Tensor;

use crate::callback::{Callback, Flow, RunInfo, StepInfo, StepTiming};
use crate::error::TrainError;
use crate::experiment::{Experiment, StepInterval};
use crate::metrics::{MetricAccumulator, MetricSet};
use crate::record::EpochRecord;
use crate::run_dir::RunDir;
use crate::summary::RunSummary;

pub use step::{evaluate, TaskInfo};
pub use update::Schedule;

/// Where training stands.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Position {
    /// Completed epochs.
    epoch: usize,
    /// Completed batches of the current epoch.
    batch: usize,
    /// Optimizer steps taken.
    global_step: u64,
}

/// Loss and metric sums of an epoch in progress.
#[derive(Clone, Debug)]
struct EpochTotals {
    loss_sum: f64,
    samples: usize,
    /// What the loss is averaged over (samples, or real tokens of a language model).
    weight: f64,
    metrics: MetricAccumulator,
}

/// The model and what trains it.
struct Net {
    model: Box<dyn Module>,
    params: Vec<NamedParam>,
    optimizer: Box<dyn Optimizer>,
    schedule: Option<Schedule>,
    early: Option<EarlyStopping>,
    metrics: MetricSet,
    info: TaskInfo,
    loader: DataLoader,
}

/// Where the run reports to: callbacks, the run folder, an interrupt flag.
#[derive(Default)]
struct Events {
    callbacks: Vec<Box<dyn Callback>>,
    run: Option<RunDir>,
    interrupt: Option<Arc<AtomicBool>>,
    signals_added: bool,
    /// When the last checkpoint was written (for `checkpoint_min_seconds`).
    last_save: Option<Instant>,
    /// Time this process spent per part of training.
    time: Timers,
    /// The checkpoint write in flight (files are written and fsynced off the training thread).
    writer: Option<std::thread::JoinHandle<Result<(), TrainError>>>,
}

impl Events {
    /// Calls `f` on every callback in order, counting the time as callback time.
    fn each_callback(&mut self, mut f: impl FnMut(&mut dyn Callback)) {
        let t = Instant::now();
        for c in &mut self.callbacks {
            f(c.as_mut());
        }
        self.time.callbacks += t.elapsed();
    }
}

/// Time this process spent per part of training (reported as [`crate::summary::TimeSpent`]).
#[derive(Default)]
struct Timers {
    data: Duration,
    steps: Duration,
    evaluation: Duration,
    callbacks: Duration,
    /// Snapshot, serialization and waiting for the checkpoint writer.
    checkpoints: Duration,
    records: Duration,
}

impl Timers {
    /// The parts in seconds, `other` being what of `wall` they leave.
    fn spent(&self, wall: Duration) -> crate::summary::TimeSpent {
        let parts = [
            self.data,
            self.steps,
            self.evaluation,
            self.callbacks,
            self.checkpoints,
            self.records,
        ];
        let measured: Duration = parts.iter().sum();
        crate::summary::TimeSpent {
            data: self.data.as_secs_f64(),
            steps: self.steps.as_secs_f64(),
            evaluation: self.evaluation.as_secs_f64(),
            callbacks: self.callbacks.as_secs_f64(),
            checkpoints: self.checkpoints.as_secs_f64(),
            records: self.records.as_secs_f64(),
            other: wall.saturating_sub(measured).as_secs_f64(),
        }
    }
}

/// Everything that changes as training goes on and a checkpoint saves.
#[derive(Default)]
struct RunState {
    pos: Position,
    history: Vec<EpochRecord>,
    monitor: String,
    monitor_mode: Mode,
    best: Option<(usize, f64)>,
    best_state: Option<Vec<(String, Tensor)>>,
    /// The epoch whose weights `checkpoints/best.ckpt` holds.
    best_saved: Option<usize>,
    partial: Option<EpochTotals>,
    elapsed_before: f64,
    digest: String,
    stopped: Option<String>,
}

/// Trains the model an [`Experiment`] describes.
///
/// ```no_run
/// use tuna_train::experiment::Experiment;
/// use tuna_train::trainer::Trainer;
///
/// let exp = Experiment::load("examples/configs/mnist-mlp.toml".as_ref(), &[]).unwrap();
/// let mut trainer = Trainer::new(exp, &tuna_data::DataContext::new(0)).unwrap();
/// let summary = trainer.fit().unwrap();
/// println!("best epoch {:?}", summary.best_epoch);
/// ```
pub struct Trainer {
    exp: Experiment,
    notes: Vec<String>,
    splits: DataSplits,
    net: Net,
    events: Events,
    state: RunState,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("experiment", &self.exp.name)
            .field("epoch", &self.state.pos.epoch)
            .field("batch", &self.state.pos.batch)
            .finish_non_exhaustive()
    }
}

/// A stable digest of the resolved experiment (FNV-1a 64 of its canonical JSON).
fn digest(exp: &Experiment) -> String {
    let text = exp.resolved().to_string();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

impl Trainer {
    /// Loads the data (fitting its preprocessing on the training split, or reusing
    /// `ctx.fitted`), builds the model, optimizer, schedule and early-stopping policy, and
    /// checks that they fit together (the data's inputs vs the model's first layer, the
    /// loss vs the task, the model's output vs the classes, metric names, monitored metrics).
    /// Nothing is trained yet.
    ///
    /// # Errors
    /// Any data error, or a setup problem naming the section at fault.
    pub fn new(mut exp: Experiment, ctx: &DataContext) -> Result<Trainer, TrainError> {
        if let Some(t) = exp.train.threads {
            tuna_tensor::set_num_threads(t);
        }
        let b = setup::build(&mut exp, ctx)?;
        let state = RunState {
            monitor: b.monitor.0,
            monitor_mode: b.monitor.1,
            digest: digest(&exp),
            ..RunState::default()
        };
        let mut trainer = Trainer {
            notes: b.notes,
            splits: b.splits,
            net: Net {
                params: b.model.named_parameters(),
                model: b.model,
                optimizer: b.optimizer,
                schedule: b.schedule,
                early: b.early,
                metrics: b.metrics,
                info: b.info,
                loader: b.loader,
            },
            events: Events::default(),
            state,
            exp,
        };
        if let Some(s) = &trainer.net.schedule {
            s.apply(trainer.net.optimizer.as_mut())?;
        }
        Ok(trainer)
    }

    /// Adds a callback (called in the order added).
    pub fn add_callback(&mut self, callback: Box<dyn Callback>) {
        self.events.callbacks.push(callback);
    }

    /// Stops training cleanly when `flag` becomes true (set it from a Ctrl-C or SIGTERM
    /// handler): the current batch finishes, the `last` checkpoint is written, and
    /// [`Trainer::fit`] returns [`TrainError::Interrupted`].
    pub fn set_interrupt(&mut self, flag: Arc<AtomicBool>) {
        self.events.interrupt = Some(flag);
    }

    /// Writes the run into `run` (config, preprocessing, metrics, checkpoints, weights,
    /// plots).
    ///
    /// # Errors
    /// The config or the preprocessing cannot be written.
    pub fn set_run_dir(&mut self, run: RunDir) -> Result<(), TrainError> {
        run.write_config(&self.exp.to_toml_string())?;
        run.write_preprocessing(&self.splits.preprocessing)?;
        run.write_task(&self.splits.task)?;
        self.events.run = Some(run);
        Ok(())
    }

    /// The run folder, if any.
    pub fn run_dir(&self) -> Option<&RunDir> {
        self.events.run.as_ref()
    }

    /// The model.
    pub fn model(&self) -> &dyn Module {
        self.net.model.as_ref()
    }

    /// The experiment (with the sizes the data filled in).
    pub fn experiment(&self) -> &Experiment {
        &self.exp
    }

    /// What was filled in or decided while setting up that a user should hear: the data
    /// plugin's notes (columns taken as categorical, missing values imputed, texts cut) and
    /// schedule lengths filled from the run.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The loaded data.
    pub fn data(&self) -> &DataSplits {
        &self.splits
    }

    /// How the task's outputs meet the loss and metrics.
    pub fn task_info(&self) -> &TaskInfo {
        &self.net.info
    }

    /// The metrics of every completed epoch.
    pub fn history(&self) -> &[EpochRecord] {
        &self.state.history
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &dyn Optimizer {
        self.net.optimizer.as_ref()
    }

    /// Training batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.net.loader.batches_per_epoch()
    }

    /// Completed epochs.
    pub fn epochs_completed(&self) -> usize {
        self.state.pos.epoch
    }

    /// The pieces one training step needs, for the LR range test ([`crate::lr_find`]), which
    /// drives its own loop on a freshly built trainer.
    pub(crate) fn step_parts(
        &mut self,
    ) -> (
        &mut dyn Module,
        &[NamedParam],
        &mut dyn Optimizer,
        &DataLoader,
        &Experiment,
        &TaskInfo,
    ) {
        (
            self.net.model.as_mut(),
            &self.net.params,
            self.net.optimizer.as_mut(),
            &self.net.loader,
            &self.exp,
            &self.net.info,
        )
    }

    fn lr(&self) -> f64 {
        self.net.optimizer.lrs().first().copied().unwrap_or(0.0)
    }

    fn name(&self) -> String {
        self.exp.name.clone().unwrap_or_else(|| "run".to_string())
    }

    /// Trains until the last epoch, early stopping, or a callback's stop; then evaluates the
    /// test split and writes the summary (and the run folder's final files).
    ///
    /// # Errors
    /// A non-finite loss or gradient (naming the step and parameter), an interruption
    /// ([`Trainer::set_interrupt`]), an I/O failure of the run folder, or a loss that cannot
    /// take the model's output.
    pub fn fit(&mut self) -> Result<RunSummary, TrainError> {
        let mut result = self.fit_inner();
        // Whatever happened, the checkpoint in flight is on disk before fit returns.
        if let Err(e) = self.wait_for_checkpoint() {
            if result.is_ok() {
                result = Err(e);
            }
        }
        if let (Err(e), Some(run)) = (&result, &self.events.run) {
            if !matches!(e, TrainError::Interrupted { .. }) {
                run.write_failure(&e.to_string())?;
            }
        }
        result
    }

    fn fit_inner(&mut self) -> Result<RunSummary, TrainError> {
        let started = Instant::now();
        self.begin();
        // A resumed run that had already been stopped (by early stopping or a callback) does
        // not train on.
        let mut stopped = self
            .state
            .stopped
            .clone()
            .or_else(|| self.early_stop_reason());
        while self.state.pos.epoch < self.exp.train.epochs && stopped.is_none() {
            let epoch = self.state.pos.epoch + 1;
            let stop = self.train_epoch(epoch, started)?;
            let record = self.end_epoch(epoch, started)?;
            stopped = self.after_epoch(&record, stop, started)?;
        }
        self.finish(stopped, started)
    }

    /// Adds the signals recorder and tells the callbacks that training starts.
    fn begin(&mut self) {
        if self.exp.train.signals && !self.events.signals_added {
            // The recorder profiles the data and picks its probes now: its time.
            let t = Instant::now();
            let path = self
                .events
                .run
                .as_ref()
                .map(|r| r.path().join("signals.jsonl"));
            let recorder = crate::signals::SignalsRecorder::new(path, Some(&self.splits.train))
                .with_validation(self.splits.validation.as_ref(), &self.net.info);
            self.events.callbacks.insert(0, Box::new(recorder));
            self.events.signals_added = true;
            self.events.time.callbacks += t.elapsed();
        }
        let info = RunInfo {
            name: self.name(),
            first_epoch: self.state.pos.epoch + 1,
            epochs: self.exp.train.epochs,
            batches_per_epoch: self.net.loader.batches_per_epoch(),
            samples_per_epoch: self.net.loader.samples_per_epoch(),
            parameters: self.net.model.num_parameters(),
            metrics: self.net.metrics.names(),
        };
        self.events.each_callback(|c| c.on_train_begin(&info));
    }

    /// Why early stopping ended the run, if it has.
    fn early_stop_reason(&self) -> Option<String> {
        let e = self.net.early.as_ref().filter(|e| e.stopped())?;
        Some(format!(
            "early stopping: {} did not improve for {} epochs (best {:.6} at epoch {})",
            e.config().monitor,
            e.config().patience,
            e.best_value().unwrap_or(f64::NAN),
            e.best_epoch().unwrap_or(0)
        ))
    }

    /// Runs the training batches of `epoch`; returns a callback's stop request.
    fn train_epoch(
        &mut self,
        epoch: usize,
        started: Instant,
    ) -> Result<Option<String>, TrainError> {
        self.net.model.set_training(true);
        let batches = self.net.loader.batches_per_epoch();
        self.events
            .each_callback(|c| c.on_epoch_begin(epoch, batches));
        let mut totals = self.state.partial.take().unwrap_or_else(|| EpochTotals {
            loss_sum: 0.0,
            samples: 0,
            weight: 0.0,
            metrics: self.net.metrics.accumulator(),
        });
        let loader = self.net.loader.clone();
        let mut it = loader.try_epoch_from(epoch - 1, self.state.pos.batch);
        loop {
            let t0 = Instant::now();
            let index = self.state.pos.batch;
            let Some(batch) = it.next() else { break };
            self.events.time.data += t0.elapsed();
            let batch = batch.map_err(|e| TrainError::from(e).at(epoch, index))?;
            let (callbacks, started_step) = (self.events.time.callbacks, Instant::now());
            let step = self
                .train_step(epoch, batches, batch, t0, &mut totals)
                .map_err(|e| e.at(epoch, index))?;
            let in_callbacks = self.events.time.callbacks - callbacks;
            self.events.time.steps += started_step.elapsed().saturating_sub(in_callbacks);
            if let Some(stop) = self.after_step(&step, batches, &mut totals, started)? {
                self.state.partial = Some(totals);
                return Ok(Some(stop));
            }
        }
        self.state.partial = Some(totals);
        Ok(None)
    }

    /// One training step: forward, loss, backward, update; the epoch totals updated.
    fn train_step(
        &mut self,
        epoch: usize,
        batches: usize,
        batch: tuna_data::Batch,
        t0: Instant,
        totals: &mut EpochTotals,
    ) -> Result<StepInfo, TrainError> {
        let t1 = Instant::now();
        let lr = self.lr();
        let net = &mut self.net;
        let (loss, penalty, output, t2, t3) = {
            let tape = Tape::new();
            let f = step::forward_loss(
                net.model.as_ref(),
                self.exp.loss.as_ref(),
                &self.exp.regularizers,
                &net.params,
                &net.info,
                &tape,
                &batch,
            )?;
            let loss_value = f.loss.item();
            let output = f.output.value();
            let t2 = Instant::now();
            if !loss_value.is_finite() {
                return Err(self.non_finite(epoch, batch.index, "loss", loss_value));
            }
            f.total.backward();
            (loss_value, f.penalty, output, t2, Instant::now())
        };
        let params = &self.net.params;
        self.events
            .each_callback(|c| c.on_after_backward(epoch, batch.index, params));
        self.check_gradients(epoch, batch.index)?;
        let net = &mut self.net;
        update::update(
            &self.exp.train,
            &net.params,
            net.optimizer.as_mut(),
            &self.exp.constraints,
            net.schedule.as_mut(),
        )?;
        let t4 = Instant::now();
        let n = batch.len();
        let w = step::weight(&net.info, &batch);
        let reported = step::report(
            self.exp.loss.as_ref(),
            &net.info,
            &mut totals.metrics,
            &output,
            &batch.targets,
            loss,
        )?;
        totals.loss_sum += reported * w;
        totals.weight += w;
        totals.samples += n;
        Ok(StepInfo {
            epoch,
            batch: batch.index,
            batches,
            global_step: self.state.pos.global_step + 1,
            loss: reported,
            penalty,
            samples: n,
            lr,
            running_metric: None,
            timing: StepTiming {
                data: t1 - t0,
                forward: t2 - t1,
                backward: t3 - t2,
                optimizer: t4 - t3,
            },
        })
    }

    /// After a step: position, callbacks, mid-epoch checkpoints, interruption. Returns a
    /// callback's stop request.
    fn after_step(
        &mut self,
        step: &StepInfo,
        batches: usize,
        totals: &mut EpochTotals,
        started: Instant,
    ) -> Result<Option<String>, TrainError> {
        self.state.pos.batch += 1;
        self.state.pos.global_step += 1;
        let mut step = step.clone();
        if !self.events.callbacks.is_empty() {
            step.running_metric = totals.metrics.finish().into_iter().next();
        }
        let mut stop = None;
        let model = self.net.model.as_ref();
        self.events.each_callback(|c| {
            if let Flow::Stop(reason) = c.on_batch_end(&step, model) {
                stop.get_or_insert(reason);
            }
        });
        let pos = self.state.pos;
        let interrupted = self
            .events
            .interrupt
            .as_ref()
            .is_some_and(|f| f.load(Ordering::SeqCst));
        let every = self.exp.train.checkpoint_every_batches;
        let due = every.is_some_and(|k| pos.batch % k == 0 && pos.batch < batches);
        if due || interrupted {
            self.state.partial = Some(totals.clone());
            self.save_last(started)?;
            self.state.partial = None;
        }
        if interrupted {
            return Err(TrainError::Interrupted {
                epoch: pos.epoch,
                batch: pos.batch,
            });
        }
        Ok(stop)
    }

    fn non_finite(&self, epoch: usize, batch: usize, what: &str, value: f64) -> TrainError {
        let first = self
            .net
            .params
            .iter()
            .find(|(_, p)| p.value().to_vec_f64().iter().any(|v| !v.is_finite()))
            .map(|(n, _)| format!("; parameter `{n}` already holds non-finite values"))
            .unwrap_or_default();
        TrainError::NonFinite(format!(
            "the {what} became {value} at epoch {epoch}, batch {batch} (step {}){first}; {}",
            self.state.pos.global_step + 1,
            self.remedy()
        ))
    }

    /// What to change after a non-finite loss or gradient: the lr setting that is in
    /// control (the schedule's peak when a schedule sets the lr), clipping, the data.
    fn remedy(&self) -> String {
        let lr = match self.exp.scheduler.as_ref().map(|s| s.config.typetag_name()) {
            Some("OneCycleLR" | "CyclicLR") => "lower scheduler.max_lr",
            _ => "lower optimizer.lr",
        };
        format!("{lr}, add train.clip_grad_norm, or check the data")
    }

    fn check_gradients(&self, epoch: usize, batch: usize) -> Result<(), TrainError> {
        for (name, p) in &self.net.params {
            let Some(g) = p.grad() else { continue };
            if !all_finite(&g) {
                let bad = g
                    .to_vec_f64()
                    .into_iter()
                    .find(|v| !v.is_finite())
                    .unwrap_or(f64::NAN);
                return Err(TrainError::NonFinite(format!(
                    "the gradient of `{name}` became non-finite ({bad}) at epoch {epoch}, batch {batch} \
                     (step {}), the first parameter to do so; {}",
                    self.state.pos.global_step + 1,
                    self.remedy()
                )));
            }
        }
        Ok(())
    }

    /// Evaluates the model on `dataset` in eval mode without a graph: mean loss and metrics
    /// (in the original units of standardized regression targets).
    ///
    /// # Errors
    /// A loss or metric that cannot take the model's output.
    pub fn evaluate(
        &mut self,
        dataset: &Arc<dyn Dataset>,
    ) -> Result<(f64, MetricAccumulator), TrainError> {
        step::evaluate(
            self.net.model.as_mut(),
            self.exp.loss.as_ref(),
            &self.net.metrics,
            &self.net.info,
            dataset,
            &self.exp.loader,
        )
    }

    /// The epoch's interval for the schedule.
    fn epoch_schedule(&mut self, record: &EpochRecord) -> Result<(), TrainError> {
        if let Some(s) = &mut self.net.schedule {
            if s.interval == StepInterval::Epoch {
                let metric = record.get(&s.plateau_monitor);
                s.step(metric, self.net.optimizer.as_mut())?;
            }
        }
        Ok(())
    }
}

fn all_finite(t: &Tensor) -> bool {
    match t.dtype() {
        tuna_tensor::DType::F32 => {
            let d = t.contiguous_data::<f32>();
            // A sum of x·0 is 0 for finite x and NaN for NaN or ±inf; vectorizes well.
            d.iter().fold(0.0f32, |acc, &x| acc + x * 0.0) == 0.0
        }
        tuna_tensor::DType::F64 => {
            let d = t.contiguous_data::<f64>();
            d.iter().fold(0.0f64, |acc, &x| acc + x * 0.0) == 0.0
        }
        _ => true,
    }
}
