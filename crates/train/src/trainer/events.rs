//! The end of an epoch (evaluation, the record, the schedule, early stopping, the best
//! weights, checkpoints) and the end of training (best weights restored, the test split, the
//! summary and the run folder's final files).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use tuna_nn::load_state_dict;
use tuna_regularize::Mode;

use super::Trainer;
use crate::callback::Flow;
use crate::checkpoint::{write_atomic_all, Checkpoint};
use crate::error::TrainError;
use crate::record::{EpochRecord, Value};
use crate::summary::RunSummary;

/// Seconds since the previous epoch ended (the epoch's wall time, evaluation included).
fn record_seconds(history: &[EpochRecord], started: Instant, before: f64) -> f64 {
    let now = before + started.elapsed().as_secs_f64();
    let spent: f64 = history.iter().filter_map(|r| r.get("seconds")).sum();
    (now - spent).max(0.0)
}

/// A checkpoint's file bytes, errors naming `path`.
fn checkpoint_bytes(ckpt: &Checkpoint, path: &Path) -> Result<Vec<u8>, TrainError> {
    ckpt.to_bytes()
        .map_err(|e| TrainError::checkpoint(path, e.to_string()))
}

impl Trainer {
    /// Evaluates, records and checkpoints the end of `epoch`.
    pub(super) fn end_epoch(
        &mut self,
        epoch: usize,
        started: Instant,
    ) -> Result<EpochRecord, TrainError> {
        let totals = self.state.partial.take().expect("epoch totals");
        let mut record = EpochRecord::new(epoch);
        record.set("train_loss", totals.loss_sum / totals.weight.max(1.0));
        for (k, v) in totals.metrics.finish() {
            record.set(format!("train_{k}"), v);
        }
        if let Some(val) = self.splits.validation.clone() {
            let t = Instant::now();
            let (loss, acc) = self.evaluate(&val)?;
            self.events.time.evaluation += t.elapsed();
            record.set("val_loss", loss);
            for (k, v) in acc.finish() {
                record.set(format!("val_{k}"), v);
            }
            self.events.each_callback(|c| c.on_validation(epoch, &acc));
        }
        // Early stopping decides first, so that callbacks know the final epoch.
        if let Some(e) = &mut self.net.early {
            let v = record.get(&self.state.monitor).unwrap_or(f64::NAN);
            e.update(epoch, v);
        }
        let last =
            epoch >= self.exp.train.epochs || self.net.early.as_ref().is_some_and(|e| e.stopped());
        self.net.model.set_training(false);
        let model = self.net.model.as_ref();
        self.events.each_callback(|c| {
            if last {
                c.on_final_epoch(epoch);
            }
            c.on_eval_epoch_end(epoch, model);
        });
        self.net.model.set_training(true);
        record.set("lr", self.lr());
        self.epoch_schedule(&record)?;
        self.track_best(epoch, &record);
        record.set(
            "seconds",
            record_seconds(&self.state.history, started, self.state.elapsed_before),
        );
        self.state.history.push(record.clone());
        self.state.pos.epoch = epoch;
        self.state.pos.batch = 0;
        if let Some(run) = &self.events.run {
            let t = Instant::now();
            run.append_record(&record)?;
            self.events.time.records += t.elapsed();
        }
        let every = self.exp.train.checkpoint_every;
        let due = (every > 0 && epoch % every == 0) || epoch == self.exp.train.epochs;
        if due && (epoch == self.exp.train.epochs || self.checkpoint_allowed()) {
            self.save_last(started)?;
        }
        Ok(record)
    }

    /// Keeps the best epoch's weights in memory.
    fn track_best(&mut self, epoch: usize, record: &EpochRecord) {
        let Some(v) = record.get(&self.state.monitor) else {
            return;
        };
        let better = match self.state.best {
            None => v.is_finite(),
            Some((_, b)) => match self.state.monitor_mode {
                Mode::Max => v > b,
                _ => v < b,
            },
        };
        if better {
            self.state.best = Some((epoch, v));
            self.state.best_state = Some(
                self.net
                    .model
                    .state_dict()
                    .into_iter()
                    .map(|(k, t)| (k, t.copy_contiguous()))
                    .collect(),
            );
        }
    }

    /// Whether a periodic checkpoint may be written now (`checkpoint_min_seconds` since the
    /// last one).
    fn checkpoint_allowed(&self) -> bool {
        let min = Duration::from_secs_f64(self.exp.train.checkpoint_min_seconds.max(0.0));
        self.events.last_save.is_none_or(|t| t.elapsed() >= min)
    }

    /// After an epoch's record: the callbacks' and early stopping's decisions. A stop is
    /// checkpointed, so a run killed before its summary does not train on when resumed.
    pub(super) fn after_epoch(
        &mut self,
        record: &EpochRecord,
        stop: Option<String>,
        started: Instant,
    ) -> Result<Option<String>, TrainError> {
        let mut stopped = stop;
        let model = self.net.model.as_ref();
        self.events.each_callback(|c| {
            if let Flow::Stop(reason) = c.on_epoch_end(record, model) {
                stopped.get_or_insert(reason);
            }
        });
        if stopped.is_some() && self.state.stopped.is_none() {
            self.state.stopped = stopped.clone();
            self.save_last(started)?;
        }
        // Early stopping's own state is in the checkpoint: a resumed run sees it there.
        if let Some(reason) = self.early_stop_reason() {
            stopped.get_or_insert(reason);
        }
        Ok(stopped)
    }

    /// Writes `checkpoints/last.ckpt` (and `best.ckpt` first when the best epoch changed
    /// since it was last written). The snapshot is taken now; the files are written and
    /// fsynced by a background thread (one [`write_atomic_all`]) while training goes on, as
    /// PyTorch's `torch.distributed.checkpoint.async_save` does. A new save first waits for
    /// the previous one.
    pub(super) fn save_last(&mut self, started: Instant) -> Result<(), TrainError> {
        let Some(run) = self.events.run.clone() else {
            return Ok(());
        };
        let writing = Instant::now();
        let mut files = Vec::with_capacity(2);
        let best_epoch = self.state.best.map(|(e, _)| e);
        let best_due = best_epoch.is_some() && best_epoch != self.state.best_saved;
        if let (true, Some(state)) = (best_due, &self.state.best_state) {
            let mut ckpt = self.checkpoint(started)?;
            ckpt.meta.epoch = best_epoch.unwrap_or(0);
            ckpt.model = state.clone();
            let path = run.best_checkpoint();
            files.push((checkpoint_bytes(&ckpt, &path)?, path));
            self.state.best_saved = best_epoch;
        }
        let path = run.last_checkpoint();
        files.push((checkpoint_bytes(&self.checkpoint(started)?, &path)?, path));
        self.events.time.checkpoints += writing.elapsed();
        self.wait_for_checkpoint()?;
        self.events.writer = Some(std::thread::spawn(move || {
            let refs: Vec<(&Path, &[u8])> = files
                .iter()
                .map(|(b, p)| (p.as_path(), b.as_slice()))
                .collect();
            write_atomic_all(&refs)
        }));
        self.events.last_save = Some(Instant::now());
        Ok(())
    }

    /// Waits until the checkpoint in flight (if any) is on disk.
    ///
    /// # Errors
    /// The write failed, or its thread panicked.
    pub(super) fn wait_for_checkpoint(&mut self) -> Result<(), TrainError> {
        let Some(writer) = self.events.writer.take() else {
            return Ok(());
        };
        let waiting = Instant::now();
        let result = writer
            .join()
            .unwrap_or_else(|_| Err(TrainError::Setup("the checkpoint writer panicked".into())));
        self.events.time.checkpoints += waiting.elapsed();
        result
    }

    /// Restores the best weights if asked, evaluates the test split, writes the summary and
    /// the run folder's final files.
    pub(super) fn finish(
        &mut self,
        stopped: Option<String>,
        started: Instant,
    ) -> Result<RunSummary, TrainError> {
        let restored_best = self.restore_best()?;
        if self.events.last_save.is_none()
            || self.state.best.map(|(e, _)| e) != self.state.best_saved
        {
            self.save_last(started)?;
        }
        let t = Instant::now();
        let (test, confusion) = self.test_metrics()?;
        self.events.time.evaluation += t.elapsed();
        let wall = self.state.elapsed_before + started.elapsed().as_secs_f64();
        let best_epoch = self.state.best.map(|(e, _)| e);
        let pick = |e: Option<usize>| {
            e.and_then(|e| self.state.history.iter().find(|r| r.epoch == e))
                .map(|r| r.values.clone())
                .unwrap_or_default()
        };
        let samples = self.state.history.len() * self.net.loader.samples_per_epoch();
        let mut summary = RunSummary {
            name: self.name(),
            epochs_completed: self.state.pos.epoch,
            epochs_planned: self.exp.train.epochs,
            monitor: self.state.monitor.clone(),
            best_epoch,
            best: pick(best_epoch),
            last: pick(self.state.history.last().map(|r| r.epoch)),
            test,
            confusion_matrix: confusion,
            stopped_early: stopped,
            restored_best,
            wall_seconds: wall,
            parameters: self.net.model.num_parameters(),
            samples_per_second: samples as f64 / wall.max(1e-9),
            checkpoint_seconds: self.events.time.checkpoints.as_secs_f64(),
            time: Some(self.events.time.spent(started.elapsed())),
        };
        self.write_final(&mut summary, started)?;
        for c in &mut self.events.callbacks {
            c.on_train_end(&summary);
        }
        Ok(summary)
    }

    fn restore_best(&mut self) -> Result<bool, TrainError> {
        let restore = self
            .net
            .early
            .as_ref()
            .is_some_and(|e| e.restore_best() && e.best_epoch().is_some());
        match (&self.state.best_state, restore) {
            (Some(state), true) => {
                load_state_dict(self.net.model.as_ref(), state, true)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn test_metrics(
        &mut self,
    ) -> Result<(BTreeMap<String, Value>, Option<Vec<Vec<u64>>>), TrainError> {
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
        Ok((test, confusion))
    }

    /// The weights (with their checksum), the learning curves and, once the checkpoint in
    /// flight is on disk, the summary with the time checkpoints and records cost.
    fn write_final(
        &mut self,
        summary: &mut RunSummary,
        started: Instant,
    ) -> Result<(), TrainError> {
        let Some(run) = self.events.run.clone() else {
            return Ok(());
        };
        let t = Instant::now();
        run.write_weights(self.net.model.as_ref())?;
        if !self.state.history.is_empty() {
            let fig = crate::curves::learning_curves(&self.state.history, &summary.name);
            for ext in ["svg", "png"] {
                let path = run.curves_path(ext);
                fig.save(&path).map_err(|e| TrainError::io(&path, e))?;
            }
        }
        self.events.time.records += t.elapsed();
        self.wait_for_checkpoint()?;
        summary.checkpoint_seconds = self.events.time.checkpoints.as_secs_f64();
        summary.time = Some(self.events.time.spent(started.elapsed()));
        run.write_summary(summary)
    }
}
