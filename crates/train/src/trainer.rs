//! [`Trainer`]: runs an [`Experiment`] — the training loop with regularization,
//! constraints, clipping, schedules, evaluation, early stopping, callbacks, the run folder and
//! checkpoints/resume.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tuna_autograd::{no_grad, NamedParam, Tape};
use tuna_data::{DataContext, DataLoader, DataSplits, Dataset, Task};
use tuna_nn::{build_checked, load_state_dict, Module, ModuleItem};
use tuna_optim::Optimizer;
use tuna_regularize::{EarlyStopping, Mode};
use tuna_sched::LrScheduler;
use tuna_tensor::{Generator, Tensor};

use crate::callback::{Callback, Flow, RunInfo, StepInfo, StepTiming};
use crate::checkpoint::{from_hex, to_hex, Checkpoint, CheckpointMeta};
use crate::error::TrainError;
use crate::experiment::{Experiment, StepInterval};
use crate::metrics::{MetricAccumulator, MetricSet};
use crate::record::{EpochRecord, Value};
use crate::run_dir::RunDir;
use crate::signals::SignalsRecorder;
use crate::summary::RunSummary;

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
    metrics: MetricAccumulator,
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
    splits: DataSplits,
    model: Box<dyn Module>,
    params: Vec<NamedParam>,
    optimizer: Box<dyn Optimizer>,
    scheduler: Option<Box<dyn LrScheduler>>,
    interval: StepInterval,
    plateau_monitor: String,
    cycles_momentum: bool,
    early: Option<EarlyStopping>,
    metrics: MetricSet,
    loader: DataLoader,
    callbacks: Vec<Box<dyn Callback>>,
    run: Option<RunDir>,
    pos: Position,
    history: Vec<EpochRecord>,
    monitor: String,
    monitor_mode: Mode,
    best: Option<(usize, f64)>,
    best_state: Option<Vec<(String, Tensor)>>,
    partial: Option<EpochTotals>,
    elapsed_before: f64,
    digest: String,
    signals_added: bool,
    stopped: Option<String>,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("experiment", &self.exp.name)
            .field("epoch", &self.pos.epoch)
            .field("batch", &self.pos.batch)
            .finish_non_exhaustive()
    }
}

fn setup(e: impl std::fmt::Display) -> TrainError {
    TrainError::Setup(e.to_string())
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
    /// Loads the data, builds the model, optimizer, schedule and early-stopping policy, and
    /// checks that they fit together (model output vs the data's classes, metric names vs
    /// the task, the monitored metric exists). Nothing is trained yet.
    ///
    /// # Errors
    /// Any data error, or a setup problem naming the section at fault.
    pub fn new(exp: Experiment, ctx: &DataContext) -> Result<Trainer, TrainError> {
        if let Some(t) = exp.train.threads {
            tuna_tensor::set_num_threads(t);
        }
        let ctx = DataContext {
            base_dirs: ctx.base_dirs.clone(),
            seed: exp.seed,
        };
        let splits = exp.data.load(&ctx)?;
        if splits.train.is_empty() {
            return Err(setup("data: the training split is empty"));
        }
        let mut sample = vec![1usize];
        sample.extend_from_slice(splits.train.feature_shape());
        let model = build_checked(exp.model.as_ref(), &sample, exp.seed)
            .map_err(|e| setup(format!("model: {e}")))?;
        let out = exp
            .model
            .output_shape("model", &sample)
            .map_err(|e| setup(format!("model: {e}")))?;
        let binary = binary_scores(exp.loss.name());
        check_output(&out, &splits.task, binary.is_some())?;
        let mut metrics = MetricSet::parse(&exp.train.metrics, &splits.task).map_err(setup)?;
        if let Some(threshold) = binary {
            metrics = metrics.with_binary_threshold(threshold);
        }
        let params = model.named_parameters();
        let optimizer = exp
            .optimizer
            .config
            .build(params.clone(), &exp.optimizer.param_groups)
            .map_err(|e| setup(format!("optimizer: {e}")))?;
        let loader = DataLoader::train(splits.train.clone(), &exp.loader, exp.seed);
        if loader.batches_per_epoch() == 0 {
            return Err(setup(format!(
                "loader: {} training samples make no batch of {} with drop_last",
                splits.train.len(),
                exp.loader.batch_size
            )));
        }
        let has_val = splits.validation.is_some();
        let (scheduler, interval, plateau_monitor, cycles_momentum) = match &exp.scheduler {
            None => (None, StepInterval::Epoch, String::new(), false),
            Some(s) => {
                let mut cfg = s.config.clone();
                let steps = match s.interval {
                    StepInterval::Batch => exp.train.epochs * loader.batches_per_epoch(),
                    StepInterval::Epoch => exp.train.epochs,
                };
                cfg.fill_total_steps(steps as u64);
                let sched = cfg
                    .build(&optimizer.lrs())
                    .map_err(|e| setup(format!("scheduler: {e}")))?;
                let monitor = s
                    .monitor
                    .clone()
                    .unwrap_or_else(|| if has_val { "val_loss" } else { "train_loss" }.to_string());
                check_monitor("scheduler.monitor", &monitor, &metrics, has_val)?;
                (Some(sched), s.interval, monitor, cfg.cycles_momentum())
            }
        };
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
        let (monitor, monitor_mode) = match &early {
            Some(e) => (e.config().monitor.clone(), e.mode()),
            None if has_val => ("val_loss".to_string(), Mode::Min),
            None => ("train_loss".to_string(), Mode::Min),
        };
        let digest = digest(&exp);
        let mut trainer = Trainer {
            splits,
            model,
            params,
            optimizer,
            scheduler,
            interval,
            plateau_monitor,
            cycles_momentum,
            early,
            metrics,
            loader,
            callbacks: Vec::new(),
            run: None,
            pos: Position::default(),
            history: Vec::new(),
            monitor,
            monitor_mode,
            best: None,
            best_state: None,
            partial: None,
            elapsed_before: 0.0,
            digest,
            signals_added: false,
            stopped: None,
            exp,
        };
        trainer.apply_schedule()?;
        Ok(trainer)
    }

    /// Adds a callback (called in the order added).
    pub fn add_callback(&mut self, callback: Box<dyn Callback>) {
        self.callbacks.push(callback);
    }

    /// Writes the run into `run` (config, metrics, checkpoints, weights, plots).
    ///
    /// # Errors
    /// The config cannot be written.
    pub fn set_run_dir(&mut self, run: RunDir) -> Result<(), TrainError> {
        run.write_config(&self.exp.to_toml_string())?;
        self.run = Some(run);
        Ok(())
    }

    /// The run folder, if any.
    pub fn run_dir(&self) -> Option<&RunDir> {
        self.run.as_ref()
    }

    /// The model.
    pub fn model(&self) -> &dyn Module {
        self.model.as_ref()
    }

    /// The experiment.
    pub fn experiment(&self) -> &Experiment {
        &self.exp
    }

    /// The loaded data.
    pub fn data(&self) -> &DataSplits {
        &self.splits
    }

    /// The metrics of every completed epoch.
    pub fn history(&self) -> &[EpochRecord] {
        &self.history
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &dyn Optimizer {
        self.optimizer.as_ref()
    }

    /// Completed epochs.
    pub fn epochs_completed(&self) -> usize {
        self.pos.epoch
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
    ) {
        (
            self.model.as_mut(),
            &self.params,
            self.optimizer.as_mut(),
            &self.loader,
            &self.exp,
        )
    }

    /// Pushes the schedule's current learning rates (and momentum) into the optimizer.
    fn apply_schedule(&mut self) -> Result<(), TrainError> {
        if let Some(s) = &self.scheduler {
            for (g, lr) in s.lrs().into_iter().enumerate() {
                self.optimizer
                    .set_lr(g, lr)
                    .map_err(|e| setup(format!("scheduler: {e}")))?;
            }
            if self.cycles_momentum {
                if let Some(m) = s.momentum() {
                    for (g, m) in m.into_iter().enumerate() {
                        self.optimizer
                            .set_momentum(g, m)
                            .map_err(|e| setup(format!("scheduler: {e}")))?;
                    }
                }
            }
        }
        Ok(())
    }

    fn lr(&self) -> f64 {
        self.optimizer.lrs().first().copied().unwrap_or(0.0)
    }

    /// Trains until the last epoch, early stopping, or a callback's stop; then evaluates the
    /// test split and writes the summary (and the run folder's final files).
    ///
    /// # Errors
    /// A non-finite loss or gradient (naming the step and parameter), an I/O failure of the
    /// run folder, or a loss that cannot take the model's output.
    pub fn fit(&mut self) -> Result<RunSummary, TrainError> {
        let started = Instant::now();
        if self.exp.train.signals && !self.signals_added {
            let path = self.run.as_ref().map(|r| r.path().join("signals.jsonl"));
            let recorder = SignalsRecorder::new(path, Some(&self.splits.train));
            self.callbacks.insert(0, Box::new(recorder));
            self.signals_added = true;
        }
        let info = RunInfo {
            name: self.name(),
            first_epoch: self.pos.epoch + 1,
            epochs: self.exp.train.epochs,
            batches_per_epoch: self.loader.batches_per_epoch(),
            samples_per_epoch: self.loader.samples_per_epoch(),
            parameters: self.model.num_parameters(),
            metrics: self.metrics.names(),
        };
        for c in &mut self.callbacks {
            c.on_train_begin(&info);
        }
        // A resumed run that had already been stopped (by early stopping or a callback) does
        // not train on.
        let mut stopped: Option<String> = self.stopped.clone().or_else(|| self.early_stop_reason());
        while self.pos.epoch < self.exp.train.epochs && stopped.is_none() {
            let epoch = self.pos.epoch + 1;
            let stop = self.train_epoch(epoch, started)?;
            let record = self.end_epoch(epoch, started)?;
            let mut flows = Vec::new();
            for c in &mut self.callbacks {
                flows.push(c.on_epoch_end(&record, self.model.as_ref()));
            }
            if let Some(reason) = stop {
                stopped = Some(reason);
            }
            for f in flows {
                if let Flow::Stop(reason) = f {
                    stopped.get_or_insert(reason);
                }
            }
            if stopped.is_some() && self.stopped.is_none() {
                // Record the stop in the checkpoint, so a run killed before its summary is
                // written does not train on when resumed.
                self.stopped = stopped.clone();
                self.save_last(started)?;
            }
            if let Some(reason) = self.early_stop_reason() {
                stopped.get_or_insert(reason);
            }
        }
        self.finish(stopped, started)
    }

    /// Why early stopping ended the run, if it has.
    fn early_stop_reason(&self) -> Option<String> {
        let e = self.early.as_ref().filter(|e| e.stopped())?;
        Some(format!(
            "early stopping: {} did not improve for {} epochs (best {:.6} at epoch {})",
            e.config().monitor,
            e.config().patience,
            e.best_value().unwrap_or(f64::NAN),
            e.best_epoch().unwrap_or(0)
        ))
    }

    fn name(&self) -> String {
        self.exp.name.clone().unwrap_or_else(|| "run".to_string())
    }

    /// Runs the training batches of `epoch`; returns a callback's stop request.
    fn train_epoch(
        &mut self,
        epoch: usize,
        started: Instant,
    ) -> Result<Option<String>, TrainError> {
        self.model.set_training(true);
        let batches = self.loader.batches_per_epoch();
        for c in &mut self.callbacks {
            c.on_epoch_begin(epoch, batches);
        }
        let mut totals = self.partial.take().unwrap_or_else(|| EpochTotals {
            loss_sum: 0.0,
            samples: 0,
            metrics: self.metrics.accumulator(),
        });
        let loader = self.loader.clone();
        let mut it = loader.epoch_from(epoch - 1, self.pos.batch);
        loop {
            let t0 = Instant::now();
            let Some(batch) = it.next() else { break };
            let t1 = Instant::now();
            let lr = self.lr();
            let n = batch.len();
            let (loss, penalty, output, t2, t3) = {
                let tape = Tape::new();
                let out = self.model.forward(tape.constant(batch.inputs));
                let target = loss_targets(self.exp.loss.as_ref(), &out.shape(), &batch.targets);
                let loss = self
                    .exp
                    .loss
                    .forward(out, tape.constant(target))
                    .map_err(|e| setup(format!("loss: {e}")))?;
                let mut total = loss;
                let mut penalty = 0.0;
                for r in &self.exp.regularizers {
                    if let Some(p) = r.penalty_for_params(&tape, &self.params) {
                        penalty += p.item();
                        total = total.add(p);
                    }
                }
                let loss_value = loss.item();
                let output = out.value();
                let t2 = Instant::now();
                if !loss_value.is_finite() {
                    return Err(self.non_finite(epoch, batch.index, "loss", loss_value));
                }
                total.backward();
                (loss_value, penalty, output, t2, Instant::now())
            };
            for c in &mut self.callbacks {
                c.on_after_backward(epoch, batch.index, &self.params);
            }
            self.check_gradients(epoch, batch.index)?;
            if let Some(max) = self.exp.train.clip_grad_norm {
                tuna_optim::clip_grad_norm(&self.params, max, self.exp.train.clip_norm_type, false)
                    .map_err(|e| TrainError::NonFinite(format!("clipping: {e}")))?;
            }
            if let Some(v) = self.exp.train.clip_grad_value {
                tuna_optim::clip_grad_value(&self.params, v)
                    .map_err(|e| TrainError::NonFinite(format!("clipping: {e}")))?;
            }
            self.optimizer
                .step()
                .map_err(|e| setup(format!("optimizer: {e}")))?;
            self.optimizer.zero_grad();
            tuna_regularize::apply_constraints(&self.exp.constraints, &self.params)
                .map_err(|e| setup(format!("constraints: {e}")))?;
            if self.interval == StepInterval::Batch {
                if let Some(s) = &mut self.scheduler {
                    s.step(None);
                }
                self.apply_schedule()?;
            }
            let t4 = Instant::now();
            totals.loss_sum += loss * n as f64;
            totals.samples += n;
            totals
                .metrics
                .update(&output, &batch.targets)
                .map_err(|e| setup(format!("train.metrics: {e}")))?;
            self.pos.batch += 1;
            self.pos.global_step += 1;
            let running_metric = if self.callbacks.is_empty() {
                None
            } else {
                totals.metrics.finish().into_iter().next()
            };
            let step = StepInfo {
                epoch,
                batch: batch.index,
                batches,
                global_step: self.pos.global_step,
                loss,
                penalty,
                samples: n,
                lr,
                running_metric,
                timing: StepTiming {
                    data: t1 - t0,
                    forward: t2 - t1,
                    backward: t3 - t2,
                    optimizer: t4 - t3,
                },
            };
            let mut stop = None;
            for c in &mut self.callbacks {
                if let Flow::Stop(reason) = c.on_batch_end(&step, self.model.as_ref()) {
                    stop.get_or_insert(reason);
                }
            }
            if let Some(every) = self.exp.train.checkpoint_every_batches {
                if self.pos.batch % every == 0 && self.pos.batch < batches {
                    self.partial = Some(totals.clone());
                    self.save_last(started)?;
                    self.partial = None;
                }
            }
            if stop.is_some() {
                self.partial = Some(totals);
                return Ok(stop);
            }
        }
        self.partial = Some(totals);
        Ok(None)
    }

    fn non_finite(&self, epoch: usize, batch: usize, what: &str, value: f64) -> TrainError {
        let first = self
            .params
            .iter()
            .find(|(_, p)| p.value().to_vec_f64().iter().any(|v| !v.is_finite()))
            .map(|(n, _)| format!("; parameter `{n}` already holds non-finite values"))
            .unwrap_or_default();
        TrainError::NonFinite(format!(
            "the {what} became {value} at epoch {epoch}, batch {batch} (step {}){first}; {}",
            self.pos.global_step + 1,
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
        for (name, p) in &self.params {
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
                    self.pos.global_step + 1,
                    self.remedy()
                )));
            }
        }
        Ok(())
    }

    /// Evaluates the model on `dataset` in eval mode without a graph: mean loss and metrics.
    pub fn evaluate(
        &mut self,
        dataset: &Arc<dyn Dataset>,
    ) -> Result<(f64, MetricAccumulator), TrainError> {
        evaluate(
            self.model.as_mut(),
            self.exp.loss.as_ref(),
            &self.metrics,
            dataset,
            self.exp.loader.resolved_eval_batch_size(),
        )
    }

    fn end_epoch(&mut self, epoch: usize, started: Instant) -> Result<EpochRecord, TrainError> {
        let totals = self.partial.take().expect("epoch totals");
        let mut record = EpochRecord::new(epoch);
        record.set("train_loss", totals.loss_sum / totals.samples.max(1) as f64);
        for (k, v) in totals.metrics.finish() {
            record.set(format!("train_{k}"), v);
        }
        if let Some(val) = self.splits.validation.clone() {
            let (loss, acc) = self.evaluate(&val)?;
            record.set("val_loss", loss);
            for (k, v) in acc.finish() {
                record.set(format!("val_{k}"), v);
            }
        }
        self.model.set_training(false);
        for c in &mut self.callbacks {
            c.on_eval_epoch_end(epoch, self.model.as_ref());
        }
        self.model.set_training(true);
        record.set("lr", self.lr());
        if self.interval == StepInterval::Epoch {
            if let Some(s) = &mut self.scheduler {
                let metric = record.get(&self.plateau_monitor);
                s.step(metric);
            }
            self.apply_schedule()?;
        }
        if let Some(e) = &mut self.early {
            let v = record.get(&self.monitor).unwrap_or(f64::NAN);
            e.update(epoch, v);
        }
        if let Some(v) = record.get(&self.monitor) {
            let better = match self.best {
                None => v.is_finite(),
                Some((_, b)) => match self.monitor_mode {
                    Mode::Max => v > b,
                    _ => v < b,
                },
            };
            if better {
                self.best = Some((epoch, v));
                self.best_state = Some(
                    self.model
                        .state_dict()
                        .into_iter()
                        .map(|(k, t)| (k, t.copy_contiguous()))
                        .collect(),
                );
            }
        }
        record.set(
            "seconds",
            record_seconds(&self.history, started, self.elapsed_before),
        );
        self.history.push(record.clone());
        self.pos.epoch = epoch;
        self.pos.batch = 0;
        if let Some(run) = &self.run {
            run.append_record(&record)?;
        }
        let every = self.exp.train.checkpoint_every;
        let is_best = self.best.map(|(e, _)| e) == Some(epoch);
        if let Some(run) = &self.run {
            if (every > 0 && epoch % every == 0) || epoch == self.exp.train.epochs {
                self.checkpoint(started)?.save(&run.last_checkpoint())?;
            }
            if is_best {
                self.checkpoint(started)?.save(&run.best_checkpoint())?;
            }
        }
        Ok(record)
    }

    /// The current state as a checkpoint.
    pub fn checkpoint_now(&self) -> Result<Checkpoint, TrainError> {
        self.checkpoint(Instant::now())
    }

    fn checkpoint(&self, started: Instant) -> Result<Checkpoint, TrainError> {
        let mut rngs = BTreeMap::new();
        self.model.visit("", &mut |name: &str, item: ModuleItem| {
            if let ModuleItem::Rng(g) = item {
                let g = g.lock().unwrap_or_else(|e| e.into_inner());
                rngs.insert(name.to_string(), to_hex(&g.state()));
            }
        });
        let partial = match &self.partial {
            None => None,
            Some(t) => Some(serde_json::json!({
                "loss_sum": t.loss_sum,
                "samples": t.samples,
                "metrics": serde_json::to_value(&t.metrics).map_err(setup)?,
            })),
        };
        Ok(Checkpoint {
            meta: CheckpointMeta {
                epoch: self.pos.epoch,
                batch: self.pos.batch,
                global_step: self.pos.global_step,
                history: self.history.clone(),
                scheduler: self.scheduler.as_ref().map(|s| s.state()),
                early_stopping: self.early.as_ref().map(|e| e.state().clone()),
                best: self.best,
                rngs,
                partial,
                elapsed_seconds: self.elapsed_before + started.elapsed().as_secs_f64(),
                config_digest: self.digest.clone(),
                stopped: self.stopped.clone(),
            },
            model: self.model.state_dict(),
            optimizer: self.optimizer.state_dict(),
        })
    }

    fn save_last(&self, started: Instant) -> Result<(), TrainError> {
        if let Some(run) = &self.run {
            self.checkpoint(started)?.save(&run.last_checkpoint())?;
        }
        Ok(())
    }

    /// Restores a checkpoint: weights, buffers, dropout generators, optimizer, schedule,
    /// early stopping, history and position. The next [`Trainer::fit`] continues exactly
    /// where the checkpointed run stood.
    ///
    /// # Errors
    /// A checkpoint from a different experiment or model, or one that does not load.
    pub fn restore(&mut self, ckpt: &Checkpoint, path: &std::path::Path) -> Result<(), TrainError> {
        let bad = |r: String| TrainError::checkpoint(path, r);
        if ckpt.meta.config_digest != self.digest {
            return Err(bad(
                "was written by a different experiment (the resolved config differs); \
                 resume with the run folder's own config.toml"
                    .into(),
            ));
        }
        load_state_dict(self.model.as_ref(), &ckpt.model, true).map_err(|e| bad(e.to_string()))?;
        let mut problems = Vec::new();
        self.model.visit("", &mut |name: &str, item: ModuleItem| {
            if let ModuleItem::Rng(g) = item {
                match ckpt
                    .meta
                    .rngs
                    .get(name)
                    .and_then(|h| from_hex(h))
                    .and_then(|b| <[u8; 56]>::try_from(b.as_slice()).ok())
                {
                    Some(state) => {
                        *g.lock().unwrap_or_else(|e| e.into_inner()) = Generator::from_state(&state)
                    }
                    None => problems.push(format!("no valid generator state for `{name}`")),
                }
            }
        });
        if !problems.is_empty() {
            return Err(bad(problems.join("; ")));
        }
        self.optimizer
            .load_state_dict(&ckpt.optimizer)
            .map_err(|e| bad(format!("optimizer: {e}")))?;
        match (&mut self.scheduler, &ckpt.meta.scheduler) {
            (Some(s), Some(state)) => s
                .load_state(state)
                .map_err(|e| bad(format!("scheduler: {e}")))?,
            (None, None) => {}
            _ => return Err(bad("scheduler presence differs from the experiment".into())),
        }
        if let (Some(e), Some(state)) = (&mut self.early, &ckpt.meta.early_stopping) {
            *e = EarlyStopping::resume(e.config().clone(), state.clone())
                .map_err(|e| bad(format!("early stopping: {e}")))?;
        }
        self.apply_schedule()?;
        self.pos = Position {
            epoch: ckpt.meta.epoch,
            batch: ckpt.meta.batch,
            global_step: ckpt.meta.global_step,
        };
        self.history = ckpt.meta.history.clone();
        self.best = ckpt.meta.best;
        self.stopped = ckpt.meta.stopped.clone();
        self.elapsed_before = ckpt.meta.elapsed_seconds;
        self.partial = match &ckpt.meta.partial {
            None => None,
            Some(p) => Some(EpochTotals {
                loss_sum: p["loss_sum"].as_f64().unwrap_or(0.0),
                samples: p["samples"].as_u64().unwrap_or(0) as usize,
                metrics: serde_json::from_value(p["metrics"].clone())
                    .map_err(|e| bad(format!("partial epoch metrics: {e}")))?,
            }),
        };
        if let Some(run) = &self.run {
            run.write_records(&self.history)?;
            if self.best.is_some() && run.best_checkpoint().is_file() {
                let best = Checkpoint::load(&run.best_checkpoint())?;
                self.best_state = Some(best.model);
            }
        }
        Ok(())
    }

    fn finish(
        &mut self,
        stopped: Option<String>,
        started: Instant,
    ) -> Result<RunSummary, TrainError> {
        let restore = self
            .early
            .as_ref()
            .is_some_and(|e| e.restore_best() && e.best_epoch().is_some());
        let mut restored_best = false;
        if restore {
            if let Some(state) = &self.best_state {
                load_state_dict(self.model.as_ref(), state, true).map_err(setup)?;
                restored_best = true;
            }
        }
        let mut test = BTreeMap::new();
        let mut confusion = None;
        if self.exp.train.test {
            if let Some(ds) = self.splits.test.clone() {
                let (loss, acc) = self.evaluate(&ds)?;
                test.insert("test_loss".to_string(), Value(loss));
                for (k, v) in acc.finish() {
                    test.insert(format!("test_{k}"), Value(v));
                }
                confusion = acc.confusion_matrix();
            }
        }
        let wall = self.elapsed_before + started.elapsed().as_secs_f64();
        let best_epoch = self.best.map(|(e, _)| e);
        let pick = |e: Option<usize>| {
            e.and_then(|e| self.history.iter().find(|r| r.epoch == e))
                .map(|r| r.values.clone())
                .unwrap_or_default()
        };
        let samples = self.history.len() * self.loader.samples_per_epoch();
        let summary = RunSummary {
            name: self.name(),
            epochs_completed: self.pos.epoch,
            epochs_planned: self.exp.train.epochs,
            monitor: self.monitor.clone(),
            best_epoch,
            best: pick(best_epoch),
            last: pick(self.history.last().map(|r| r.epoch)),
            test,
            confusion_matrix: confusion,
            stopped_early: stopped,
            restored_best,
            wall_seconds: wall,
            parameters: self.model.num_parameters(),
            samples_per_second: samples as f64 / wall.max(1e-9),
        };
        if let Some(run) = &self.run {
            tuna_nn::save_safetensors(self.model.as_ref(), run.weights_path())
                .map_err(|e| TrainError::io(run.weights_path(), e))?;
            run.write_summary(&summary)?;
            if !self.history.is_empty() {
                let fig = crate::curves::learning_curves(&self.history, &summary.name);
                for ext in ["svg", "png"] {
                    let path = run.curves_path(ext);
                    fig.save(&path).map_err(|e| TrainError::io(&path, e))?;
                }
            }
        }
        for c in &mut self.callbacks {
            c.on_train_end(&summary);
        }
        Ok(summary)
    }
}

/// Seconds since the previous epoch ended (the epoch's wall time, evaluation included).
fn record_seconds(history: &[EpochRecord], started: Instant, before: f64) -> f64 {
    let now = before + started.elapsed().as_secs_f64();
    let spent: f64 = history.iter().filter_map(|r| r.get("seconds")).sum();
    (now - spent).max(0.0)
}

/// Mean loss and metrics of `model` on `dataset`, in eval mode and without a graph.
///
/// # Errors
/// A loss that cannot take the model's output.
pub fn evaluate(
    model: &mut dyn Module,
    loss: &dyn tuna_loss::Loss,
    metrics: &MetricSet,
    dataset: &Arc<dyn Dataset>,
    batch_size: usize,
) -> Result<(f64, MetricAccumulator), TrainError> {
    model.set_training(false);
    let loader = DataLoader::new(dataset.clone(), batch_size, false, false, 0);
    let mut acc = metrics.accumulator();
    let mut sum = 0.0;
    let mut n = 0usize;
    let result = no_grad(|| -> Result<(), TrainError> {
        for batch in loader.epoch(0) {
            let tape = Tape::new();
            let out = model.forward(tape.constant(batch.inputs));
            let target = loss_targets(loss, &out.shape(), &batch.targets);
            let l = loss
                .forward(out, tape.constant(target))
                .map_err(|e| setup(format!("loss: {e}")))?;
            let b = batch.targets.shape()[0];
            sum += l.item() * b as f64;
            n += b;
            acc.update(&out.value(), &batch.targets)
                .map_err(|e| setup(format!("train.metrics: {e}")))?;
        }
        Ok(())
    });
    model.set_training(true);
    result?;
    Ok((sum / n.max(1) as f64, acc))
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

/// For a loss that scores two classes with one output per sample, the score threshold of
/// class 1: 0 for `BCEWithLogitsLoss` (logits), 0.5 for `BCELoss` (probabilities).
fn binary_scores(loss: &str) -> Option<f64> {
    match loss {
        "BCEWithLogitsLoss" => Some(0.0),
        "BCELoss" => Some(0.5),
        _ => None,
    }
}

/// The targets as the loss takes them: class indices as they are, except for the binary
/// losses, which take float 0/1 targets of the output's shape.
fn loss_targets(loss: &dyn tuna_loss::Loss, output_shape: &[usize], targets: &Tensor) -> Tensor {
    if binary_scores(loss.name()).is_some() && targets.dtype() == tuna_tensor::DType::I64 {
        let t = targets.to_dtype(tuna_tensor::DType::F32);
        if t.numel() == output_shape.iter().product::<usize>() {
            let shape: Vec<isize> = output_shape.iter().map(|&d| d as isize).collect();
            return t.reshape(&shape);
        }
        return t;
    }
    targets.clone()
}

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
            if binary {
                return Ok(());
            }
            if per_sample.len() == 1 && per_sample[0] != *num_classes {
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
    }
    Ok(())
}

fn check_monitor(
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
