//! What a checkpoint holds of a trainer, and restoring it: a restored trainer's next
//! [`Trainer::fit`] continues exactly where the checkpointed run stood.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use tuna_nn::{load_state_dict, ModuleItem};
use tuna_regularize::EarlyStopping;
use tuna_tensor::Generator;

use super::{EpochTotals, Position, Trainer};
use crate::checkpoint::{from_hex, to_hex, Checkpoint, CheckpointMeta};
use crate::error::TrainError;

impl Trainer {
    /// The current state as a checkpoint.
    ///
    /// # Errors
    /// The partial-epoch metrics cannot be serialized.
    pub fn checkpoint_now(&self) -> Result<Checkpoint, TrainError> {
        self.checkpoint(Instant::now())
    }

    pub(super) fn checkpoint(&self, started: Instant) -> Result<Checkpoint, TrainError> {
        let mut rngs = BTreeMap::new();
        self.net
            .model
            .visit("", &mut |name: &str, item: ModuleItem| {
                if let ModuleItem::Rng(g) = item {
                    let g = g.lock().unwrap_or_else(|e| e.into_inner());
                    rngs.insert(name.to_string(), to_hex(&g.state()));
                }
            });
        let partial = match &self.state.partial {
            None => None,
            Some(t) => Some(serde_json::json!({
                "loss_sum": t.loss_sum,
                "samples": t.samples,
                "weight": t.weight,
                "metrics": serde_json::to_value(&t.metrics)
                    .map_err(|e| TrainError::Setup(e.to_string()))?,
            })),
        };
        let s = &self.state;
        Ok(Checkpoint {
            meta: CheckpointMeta {
                epoch: s.pos.epoch,
                batch: s.pos.batch,
                global_step: s.pos.global_step,
                history: s.history.clone(),
                scheduler: self.net.schedule.as_ref().map(|s| s.sched.state()),
                early_stopping: self.net.early.as_ref().map(|e| e.state().clone()),
                best: s.best,
                rngs,
                partial,
                elapsed_seconds: s.elapsed_before + started.elapsed().as_secs_f64(),
                config_digest: s.digest.clone(),
                stopped: s.stopped.clone(),
            },
            model: self.net.model.state_dict(),
            optimizer: self.net.optimizer.state_dict(),
        })
    }

    /// Restores a checkpoint: weights, buffers, dropout generators, optimizer, schedule,
    /// early stopping, history and position. The next [`Trainer::fit`] continues exactly
    /// where the checkpointed run stood.
    ///
    /// # Errors
    /// A checkpoint from a different experiment or model, or one that does not load.
    pub fn restore(&mut self, ckpt: &Checkpoint, path: &Path) -> Result<(), TrainError> {
        self.restore_with(ckpt, path, false)
    }

    /// [`Trainer::restore`], optionally accepting a checkpoint whose experiment differs only
    /// in `train.epochs` (continuing a finished run for more epochs).
    ///
    /// # Errors
    /// As [`Trainer::restore`].
    pub fn restore_with(
        &mut self,
        ckpt: &Checkpoint,
        path: &Path,
        more_epochs: bool,
    ) -> Result<(), TrainError> {
        let bad = |r: String| TrainError::checkpoint(path, r);
        if ckpt.meta.config_digest != self.state.digest && !more_epochs {
            return Err(bad(
                "was written by a different experiment (the resolved config differs); \
                 resume with the run folder's own config.toml"
                    .into(),
            ));
        }
        load_state_dict(self.net.model.as_ref(), &ckpt.model, true)
            .map_err(|e| bad(e.to_string()))?;
        self.restore_rngs(ckpt).map_err(bad)?;
        self.net
            .optimizer
            .load_state_dict(&ckpt.optimizer)
            .map_err(|e| bad(format!("optimizer: {e}")))?;
        self.restore_schedule(ckpt, more_epochs).map_err(bad)?;
        if let (Some(e), Some(state)) = (&mut self.net.early, &ckpt.meta.early_stopping) {
            *e = EarlyStopping::resume(e.config().clone(), state.clone())
                .map_err(|e| bad(format!("early stopping: {e}")))?;
        }
        if let Some(s) = &self.net.schedule {
            s.apply(self.net.optimizer.as_mut())?;
        }
        self.restore_position(ckpt).map_err(bad)?;
        if more_epochs {
            self.state.stopped = None;
        }
        self.restore_run_files()
    }

    fn restore_rngs(&mut self, ckpt: &Checkpoint) -> Result<(), String> {
        let mut problems = Vec::new();
        self.net
            .model
            .visit("", &mut |name: &str, item: ModuleItem| {
                if let ModuleItem::Rng(g) = item {
                    match ckpt
                        .meta
                        .rngs
                        .get(name)
                        .and_then(|h| from_hex(h))
                        .and_then(|b| <[u8; 56]>::try_from(b.as_slice()).ok())
                    {
                        Some(state) => {
                            *g.lock().unwrap_or_else(|e| e.into_inner()) =
                                Generator::from_state(&state)
                        }
                        None => problems.push(format!("no valid generator state for `{name}`")),
                    }
                }
            });
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// The schedule's state. Continuing a finished run for more epochs keeps a schedule that
    /// is a function of the step (it goes on where it was: a finished OneCycleLR holds its
    /// final lr); a schedule whose length was filled from the old epoch count is rebuilt for
    /// the new one and stepped to where the run stands.
    fn restore_schedule(&mut self, ckpt: &Checkpoint, more_epochs: bool) -> Result<(), String> {
        match (&mut self.net.schedule, &ckpt.meta.scheduler) {
            (Some(s), Some(state)) => match s.sched.load_state(state) {
                Ok(()) => Ok(()),
                Err(_) if more_epochs => {
                    s.sched.step_to(ckpt.meta.global_step);
                    Ok(())
                }
                Err(e) => Err(format!("scheduler: {e}")),
            },
            (None, None) => Ok(()),
            _ => Err("scheduler presence differs from the experiment".into()),
        }
    }

    fn restore_position(&mut self, ckpt: &Checkpoint) -> Result<(), String> {
        let m = &ckpt.meta;
        self.state.pos = Position {
            epoch: m.epoch,
            batch: m.batch,
            global_step: m.global_step,
        };
        self.state.history = m.history.clone();
        self.state.best = m.best;
        self.state.stopped = m.stopped.clone();
        self.state.elapsed_before = m.elapsed_seconds;
        self.state.partial = match &m.partial {
            None => None,
            Some(p) => Some(EpochTotals {
                loss_sum: p["loss_sum"].as_f64().unwrap_or(0.0),
                samples: p["samples"].as_u64().unwrap_or(0) as usize,
                weight: p["weight"]
                    .as_f64()
                    .unwrap_or_else(|| p["samples"].as_f64().unwrap_or(0.0)),
                metrics: serde_json::from_value(p["metrics"].clone())
                    .map_err(|e| format!("partial epoch metrics: {e}"))?,
            }),
        };
        Ok(())
    }

    /// Rewrites `metrics.jsonl` to match the checkpoint and reloads the best weights.
    fn restore_run_files(&mut self) -> Result<(), TrainError> {
        let Some(run) = &self.events.run else {
            return Ok(());
        };
        run.write_records(&self.state.history)?;
        let best_epoch = self.state.best.map(|(e, _)| e);
        if best_epoch.is_some() && run.best_checkpoint().is_file() {
            let best = Checkpoint::load(&run.best_checkpoint())?;
            if Some(best.meta.epoch) == best_epoch {
                self.state.best_state = Some(best.model);
                self.state.best_saved = best_epoch;
            }
        }
        Ok(())
    }
}
