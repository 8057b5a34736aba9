//! One step's update half: gradient clipping, the optimizer step, `zero_grad`, constraints,
//! and the learning-rate schedule (the schedule is the lr's one source of truth: it computes
//! the lr and this pushes it into the optimizer).

use tuna_autograd::NamedParam;
use tuna_optim::Optimizer;
use tuna_regularize::Constraint;
use tuna_sched::LrScheduler;

use crate::error::TrainError;
use crate::experiment::{StepInterval, TrainConfig};

/// A built schedule with when it steps and what it watches.
pub struct Schedule {
    /// The schedule.
    pub sched: Box<dyn LrScheduler>,
    /// After every batch or every epoch.
    pub interval: StepInterval,
    /// The metric a plateau schedule watches (`val_loss`, ...).
    pub plateau_monitor: String,
    /// Whether the schedule also sets momentum (OneCycleLR, CyclicLR with `cycle_momentum`).
    pub cycles_momentum: bool,
}

impl Schedule {
    /// Pushes the schedule's current learning rates (and momentum) into the optimizer.
    ///
    /// # Errors
    /// A group count the optimizer does not have.
    pub fn apply(&self, optimizer: &mut dyn Optimizer) -> Result<(), TrainError> {
        for (g, lr) in self.sched.lrs().into_iter().enumerate() {
            optimizer.set_lr(g, lr)?;
        }
        if self.cycles_momentum {
            if let Some(m) = self.sched.momentum() {
                for (g, m) in m.into_iter().enumerate() {
                    optimizer.set_momentum(g, m)?;
                }
            }
        }
        Ok(())
    }

    /// Advances the schedule (with the watched metric for a plateau schedule) and applies it.
    ///
    /// # Errors
    /// As [`Schedule::apply`].
    pub fn step(
        &mut self,
        metric: Option<f64>,
        optimizer: &mut dyn Optimizer,
    ) -> Result<(), TrainError> {
        self.sched.step(metric);
        self.apply(optimizer)
    }
}

/// Clips the gradients as `[train]` asks (`clip_grad_norm`, then `clip_grad_value`).
///
/// # Errors
/// [`TrainError::NonFinite`] when the total norm is not finite.
pub fn clip(train: &TrainConfig, params: &[NamedParam]) -> Result<(), TrainError> {
    if let Some(max) = train.clip_grad_norm {
        tuna_optim::clip_grad_norm(params, max, train.clip_norm_type, false)
            .map_err(|e| TrainError::NonFinite(format!("clipping: {e}")))?;
    }
    if let Some(v) = train.clip_grad_value {
        tuna_optim::clip_grad_value(params, v)
            .map_err(|e| TrainError::NonFinite(format!("clipping: {e}")))?;
    }
    Ok(())
}

/// The update after a backward pass: clip, step, zero the gradients, project onto the
/// constraints, and advance a per-batch schedule.
///
/// # Errors
/// A non-finite gradient norm, or an optimizer, constraint or schedule failure.
pub fn update(
    train: &TrainConfig,
    params: &[NamedParam],
    optimizer: &mut dyn Optimizer,
    constraints: &[Box<dyn Constraint>],
    schedule: Option<&mut Schedule>,
) -> Result<(), TrainError> {
    clip(train, params)?;
    optimizer.step()?;
    optimizer.zero_grad();
    tuna_regularize::apply_constraints(constraints, params)?;
    if let Some(s) = schedule.filter(|s| s.interval == StepInterval::Batch) {
        s.step(None, optimizer)?;
    }
    Ok(())
}
