//! # tuna-sched
//!
//! Tuna's learning-rate schedules: every `torch.optim.lr_scheduler` as a typetag plugin, plus a
//! [`LinearWarmupConfig`] convenience. A schedule is a pure function of the step count (and, for
//! [`ReduceLrOnPlateauConfig`], of the observed metrics); it depends on no tensor code.
//!
//! A schedule has two halves:
//!
//! - a serializable **config** implementing [`LrSchedulerConfig`]: the tag is the PyTorch class
//!   name (`type = "StepLR"`), the fields are PyTorch's constructor arguments in snake_case with
//!   PyTorch's defaults, and unknown fields are rejected;
//! - a **runtime** [`LrScheduler`], built from the config and the optimizer's per-group base
//!   learning rates, which is stepped once per epoch or batch and reports the learning rate (and
//!   for cyclic schedules the momentum or Adam `beta1`) that the trainer passes to the optimizer.
//!
//! ```
//! use tuna_sched::{LrScheduler, LrSchedulerConfig};
//!
//! // Deserialize by PyTorch class name, exactly like a config file would.
//! let config: Box<dyn LrSchedulerConfig> =
//!     serde_json::from_str(r#"{"type": "StepLR", "step_size": 2, "gamma": 0.5}"#).unwrap();
//! let mut sched = config.build(&[0.1]).unwrap(); // one base lr per parameter group
//! let mut lrs = vec![sched.lrs()[0]];
//! for _ in 0..4 {
//!     sched.step(None); // after optimizer.step(), as in PyTorch
//!     lrs.push(sched.lrs()[0]);
//! }
//! assert_eq!(lrs, [0.1, 0.1, 0.05, 0.05, 0.025]);
//!
//! // Save the state at any step and resume exactly.
//! let state = sched.state();
//! let mut resumed = config.build(&[0.1]).unwrap();
//! resumed.load_state(&state).unwrap();
//! sched.step(None);
//! resumed.step(None);
//! assert_eq!(sched.lrs(), resumed.lrs());
//! ```
//!
//! Nested schedules ([`SequentialLrConfig`], [`ChainedSchedulerConfig`]) replicate PyTorch's shared-lr
//! semantics exactly, including the effect of the sub-schedulers' constructors on the lr.
//!
//! Your own schedule registers itself with `#[typetag::serde(name = "MySchedule")]` on its
//! `impl LrSchedulerConfig` and is then usable by name from any config file.

mod chainable;
mod core;
mod error;
mod per_group;
mod state;

mod chained_scheduler;
mod constant_lr;
mod cosine_annealing_lr;
mod cosine_annealing_warm_restarts;
mod cyclic_lr;
mod exponential_lr;
mod linear_lr;
mod linear_warmup;
mod multi_step_lr;
mod one_cycle_lr;
mod polynomial_lr;
mod reduce_lr_on_plateau;
mod sequential_lr;
mod step_lr;

#[cfg(test)]
pub(crate) mod test_util;

use std::fmt::Debug;

use dyn_clone::DynClone;

pub use chainable::{ChainRule, Chainable};
pub use chained_scheduler::ChainedSchedulerConfig;
pub use constant_lr::{ConstantLr, ConstantLrConfig};
pub use core::ScheduleCore;
pub use cosine_annealing_lr::{CosineAnnealingLr, CosineAnnealingLrConfig};
pub use cosine_annealing_warm_restarts::CosineAnnealingWarmRestartsConfig;
pub use cyclic_lr::{CyclicLrConfig, CyclicMode, ScaleFn, ScaleMode};
pub use error::SchedError;
pub use exponential_lr::{ExponentialLr, ExponentialLrConfig};
pub use linear_lr::{LinearLr, LinearLrConfig};
pub use linear_warmup::LinearWarmupConfig;
pub use multi_step_lr::{MultiStepLr, MultiStepLrConfig};
pub use one_cycle_lr::{AnnealStrategy, OneCycleLrConfig};
pub use per_group::PerGroup;
pub use polynomial_lr::{PolynomialLr, PolynomialLrConfig};
pub use reduce_lr_on_plateau::{PlateauMode, ReduceLrOnPlateauConfig, ThresholdMode};
pub use sequential_lr::SequentialLrConfig;
pub use state::SchedulerState;
pub use step_lr::{StepLr, StepLrConfig};

/// A serializable learning-rate schedule config: the plugin trait.
///
/// Configs are internally tagged by their PyTorch class name (`{"type": "OneCycleLR", ...}`),
/// so `Box<dyn LrSchedulerConfig>` deserializes from JSON or TOML directly. Implement it for
/// your own type with `#[typetag::serde(name = "...")]` to make it loadable by name.
#[typetag::serde(tag = "type")]
pub trait LrSchedulerConfig: DynClone + Debug + Send + Sync {
    /// The tag this config is written with (the PyTorch class name, e.g. `"OneCycleLR"`), which
    /// also names the schedule in saved states and errors.
    fn name(&self) -> &'static str {
        self.typetag_name()
    }

    /// Checks every field and returns the first problem, naming the schedule and the field
    /// (`MultiStepLR.milestones: must be increasing ..., got [30, 10]`).
    ///
    /// # Errors
    /// [`SchedError::InvalidField`] for a bad field.
    fn validate(&self) -> Result<(), SchedError>;

    /// Builds the runtime schedule for an optimizer whose parameter groups start at `base_lrs`
    /// (one learning rate per group, PyTorch's `initial_lr`). The returned schedule is at step
    /// 0, as a PyTorch scheduler is right after construction: [`LrScheduler::lrs`] is the lr
    /// the first optimizer step uses.
    ///
    /// # Errors
    /// The first validation error, or [`SchedError::NoParamGroups`] for an empty `base_lrs`, or
    /// [`SchedError::InvalidField`] when a per-group field has the wrong number of entries.
    fn build(&self, base_lrs: &[f64]) -> Result<Box<dyn LrScheduler>, SchedError>;

    /// Whether the built schedule also sets momentum (SGD/RMSprop `momentum`, Adam `beta1`).
    fn cycles_momentum(&self) -> bool {
        false
    }

    /// Fills in the schedule's length where the config leaves it out and the schedule needs it
    /// (`OneCycleLR` without `total_steps` or `epochs` + `steps_per_epoch`; the inner schedule
    /// of `LinearWarmup`, minus the warmup). The trainer calls it with the run's total number
    /// of scheduler steps. The default does nothing.
    fn fill_total_steps(&mut self, total_steps: u64) {
        let _ = total_steps;
    }
}

dyn_clone::clone_trait_object!(LrSchedulerConfig);

/// A running learning-rate schedule, built by [`LrSchedulerConfig::build`].
///
/// The trainer calls [`step`](LrScheduler::step) after each optimizer step (per batch) or
/// after each epoch, then reads [`lrs`](LrScheduler::lrs) (and
/// [`momentum`](LrScheduler::momentum)) and passes them to the optimizer: the schedule is the
/// single source of truth for the learning rate.
///
/// Three methods are required: `step` and access to the schedule's [`ScheduleCore`] (its
/// current and base lrs, `last_epoch`, momentum). Everything else is provided from the core
/// and is correct for a schedule whose only changing state is the core and that moves on every
/// step; a schedule with more state (counters, a best metric, nested schedules) overrides
/// [`state`](LrScheduler::state), [`load_state`](LrScheduler::load_state) and
/// [`restart`](LrScheduler::restart) (which must reset that state too), one that ignores some
/// steps (a metric-driven schedule) also [`restart`](LrScheduler::restart) and
/// [`step_to`](LrScheduler::step_to), and one with a closed form overrides
/// [`step_to`](LrScheduler::step_to). A schedule that is a formula of the step is simplest
/// as a [`ChainRule`] run by [`Chainable`].
///
/// The composition hooks ([`set_lrs`](LrScheduler::set_lrs),
/// [`restart`](LrScheduler::restart), [`step_to`](LrScheduler::step_to)) let
/// [`SequentialLrConfig`], [`ChainedSchedulerConfig`] and [`LinearWarmupConfig`] share one learning rate
/// between nested schedules exactly as PyTorch's do.
pub trait LrScheduler: DynClone + Debug + Send + Sync {
    /// Advances one step (PyTorch `scheduler.step()`, or `scheduler.step(metric)` for
    /// `ReduceLROnPlateau`): increments `last_epoch` and sets the new lrs in the core.
    /// Schedules that do not observe metrics ignore `metric`; [`ReduceLrOnPlateauConfig`] ignores a
    /// step without one.
    fn step(&mut self, metric: Option<f64>);

    /// The schedule's shared values.
    fn core(&self) -> &ScheduleCore;

    /// The schedule's shared values, to change.
    fn core_mut(&mut self) -> &mut ScheduleCore;

    /// The current learning rate of every parameter group (PyTorch `get_last_lr()`).
    fn lrs(&self) -> Vec<f64> {
        self.core().lrs.clone()
    }

    /// The momentum to set on every parameter group, for schedules that cycle it
    /// ([`CyclicLrConfig`], [`OneCycleLrConfig`] with `cycle_momentum`); `None` otherwise. The optimizer
    /// applies it as its `momentum` (SGD, RMSprop) or as Adam's `beta1`, as PyTorch does.
    fn momentum(&self) -> Option<Vec<f64>> {
        self.core().momentum.clone()
    }

    /// The base learning rates (PyTorch `scheduler.base_lrs`).
    fn base_lrs(&self) -> Vec<f64> {
        self.core().base_lrs.clone()
    }

    /// The number of steps taken since construction (PyTorch `last_epoch`; 0 after
    /// construction).
    fn last_epoch(&self) -> i64 {
        self.core().last_epoch
    }

    /// A serializable snapshot of everything that changes while stepping; load it into a fresh
    /// schedule built from the same config to continue exactly. The default saves the core.
    fn state(&self) -> SchedulerState {
        self.core().state()
    }

    /// Restores a snapshot taken by [`state`](LrScheduler::state). The default restores the
    /// core.
    ///
    /// # Errors
    /// [`SchedError::State`] if the snapshot belongs to another schedule type, has another
    /// number of groups, disagrees on whether momentum is cycled, or lacks a value.
    fn load_state(&mut self, state: &SchedulerState) -> Result<(), SchedError> {
        self.core_mut().load(state)
    }

    /// Composition hook: overwrites the current learning rates (the optimizer's
    /// `param_group["lr"]`, which PyTorch schedulers read back in their recursive form).
    fn set_lrs(&mut self, lrs: &[f64]) {
        self.core_mut().lrs.copy_from_slice(lrs);
    }

    /// Composition hook: rewinds to before construction and performs the constructor's initial
    /// step on the current learning rates (PyTorch `_initial_step()`). The default sets
    /// `last_epoch` to -1 and steps once.
    fn restart(&mut self) {
        self.core_mut().last_epoch = -1;
        self.step(None);
    }

    /// Composition hook: jumps to `epoch` (PyTorch's deprecated `scheduler.step(epoch)`, which
    /// `SequentialLR` calls with 0 at each milestone). The default is PyTorch's path for a
    /// schedule without a closed form: `last_epoch = epoch`, then the step's formula.
    fn step_to(&mut self, epoch: u64) {
        self.core_mut().last_epoch = epoch as i64 - 1;
        self.step(None);
    }
}

dyn_clone::clone_trait_object!(LrScheduler);

/// Forces this crate's typetag plugins to be linked into the final binary (typetag registers a
/// type only if its crate is linked). The `tuna` umbrella crate calls it; call it yourself if
/// you depend on this crate alone and load plugins by name.
pub fn link() {}

/// One valid config of every built-in schedule (PyTorch defaults, with Tuna placeholders for
/// the arguments PyTorch requires), in a stable order. Used by the registry test and handy for
/// listing what exists.
pub fn builtin_examples() -> Vec<Box<dyn LrSchedulerConfig>> {
    vec![
        Box::new(StepLrConfig::default()),
        Box::new(MultiStepLrConfig::default()),
        Box::new(ConstantLrConfig::default()),
        Box::new(LinearLrConfig::default()),
        Box::new(ExponentialLrConfig::default()),
        Box::new(PolynomialLrConfig::default()),
        Box::new(CosineAnnealingLrConfig {
            t_max: 100,
            ..Default::default()
        }),
        Box::new(CosineAnnealingWarmRestartsConfig::default()),
        Box::new(CyclicLrConfig::default()),
        Box::new(OneCycleLrConfig {
            total_steps: Some(100),
            ..Default::default()
        }),
        Box::new(ReduceLrOnPlateauConfig::default()),
        Box::new(SequentialLrConfig {
            schedulers: vec![
                Box::new(LinearLrConfig::default()),
                Box::new(CosineAnnealingLrConfig {
                    t_max: 100,
                    ..Default::default()
                }),
            ],
            milestones: vec![5],
            last_epoch: -1,
        }),
        Box::new(ChainedSchedulerConfig {
            schedulers: vec![
                Box::new(ConstantLrConfig::default()),
                Box::new(ExponentialLrConfig::default()),
            ],
        }),
        Box::new(LinearWarmupConfig {
            scheduler: Some(Box::new(CosineAnnealingLrConfig {
                t_max: 100,
                ..Default::default()
            })),
            ..Default::default()
        }),
    ]
}

/// Checks that `base_lrs` is non-empty and finite.
pub(crate) fn check_base_lrs(base_lrs: &[f64]) -> Result<(), SchedError> {
    if base_lrs.is_empty() {
        return Err(SchedError::NoParamGroups);
    }
    if let Some(lr) = base_lrs.iter().find(|lr| !lr.is_finite()) {
        return Err(SchedError::BaseLr(*lr));
    }
    Ok(())
}

/// PyTorch only supports constructing with `last_epoch = -1` without an `initial_lr` in the
/// groups; Tuna resumes through [`LrScheduler::load_state`] instead.
pub(crate) fn check_last_epoch(schedule: &'static str, last_epoch: i64) -> Result<(), SchedError> {
    if last_epoch != -1 {
        return Err(SchedError::invalid(
            schedule,
            "last_epoch",
            format!("only -1 is supported (resume a run with LrScheduler::load_state), got {last_epoch}"),
        ));
    }
    Ok(())
}
