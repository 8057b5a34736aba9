//! The runtime of every schedule that is a formula of the step: PyTorch's "chainable"
//! schedules (StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR,
//! CosineAnnealingLR) and your own. Each step computes the new lr from the *current* lr
//! (which a preceding schedule in a chain may have changed), exactly as PyTorch's recursive
//! `get_lr()` does, and `step_to` uses PyTorch's `_get_closed_form_lr()`.

use crate::{LrScheduler, LrSchedulerConfig, SchedError, ScheduleCore, SchedulerState};

/// A schedule as a formula of the step, for one parameter group: implement
/// [`closed_form`](ChainRule::closed_form) (and [`chained`](ChainRule::chained) when the
/// schedule multiplies the current lr, as PyTorch's chainable schedules do) for the schedule's
/// config, whose [`LrSchedulerConfig::build`] calls [`Chainable::boxed`]; the config's tag
/// names the schedule in saved states and errors. The result resumes exactly and composes inside [`SequentialLrConfig`]
/// and [`LinearWarmupConfig`]; inside [`ChainedSchedulerConfig`] a rule with only the closed form replaces
/// the lr the schedules before it set (PyTorch `LambdaLR`), one that overrides
/// [`chained`](ChainRule::chained) scales it.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use tuna_sched::{ChainRule, Chainable, LrScheduler, LrSchedulerConfig, SchedError};
///
/// /// `lr = base / sqrt(1 + t)`.
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// struct InverseSqrt {}
///
/// impl ChainRule for InverseSqrt {
///     fn closed_form(&self, epoch: i64, base_lr: f64) -> f64 {
///         base_lr / (1.0 + epoch as f64).sqrt()
///     }
/// }
///
/// #[typetag::serde(name = "InverseSqrt")]
/// impl LrSchedulerConfig for InverseSqrt {
///     fn validate(&self) -> Result<(), SchedError> {
///         Ok(())
///     }
///     fn build(&self, base_lrs: &[f64]) -> Result<Box<dyn LrScheduler>, SchedError> {
///         Chainable::boxed(self.clone(), base_lrs)
///     }
/// }
///
/// let mut s = InverseSqrt {}.build(&[1.0]).unwrap();
/// s.step(None);
/// s.step(None);
/// s.step(None);
/// assert_eq!(s.lrs(), [0.5]);
/// ```
///
/// [`SequentialLrConfig`]: crate::SequentialLrConfig
/// [`ChainedSchedulerConfig`]: crate::ChainedSchedulerConfig
/// [`LinearWarmupConfig`]: crate::LinearWarmupConfig
pub trait ChainRule: LrSchedulerConfig + Clone + 'static {
    /// The closed form: the lr at `epoch` (>= 0) from the group's base lr.
    fn closed_form(&self, epoch: i64, base_lr: f64) -> f64;

    /// The recursive form: the new lr at `epoch` (>= 0) from the current `lr`.
    /// `step_count` is PyTorch's `_step_count` (1 on the constructor's step). The default is
    /// the closed form, which ignores the current lr (PyTorch `LambdaLR`'s behaviour); a
    /// schedule that scales the current lr overrides it so that it chains.
    fn chained(&self, epoch: i64, step_count: i64, lr: f64, base_lr: f64) -> f64 {
        let _ = (step_count, lr);
        self.closed_form(epoch, base_lr)
    }
}

/// The running schedule of a [`ChainRule`].
#[derive(Debug, Clone)]
pub struct Chainable<R> {
    rule: R,
    core: ScheduleCore,
    step_count: i64,
}

impl<R: ChainRule> Chainable<R> {
    /// Constructs on groups whose lr is `base_lrs` and performs the initial step (PyTorch's
    /// constructor).
    ///
    /// # Errors
    /// [`SchedError::NoParamGroups`] for an empty `base_lrs`, [`SchedError::BaseLr`] for a
    /// non-finite one.
    pub fn boxed(rule: R, base_lrs: &[f64]) -> Result<Box<dyn LrScheduler>, SchedError> {
        crate::check_base_lrs(base_lrs)?;
        let core = ScheduleCore::new(rule.name(), base_lrs);
        let mut s = Chainable {
            rule,
            core,
            step_count: 0,
        };
        s.restart();
        Ok(Box::new(s))
    }
}

impl<R: ChainRule> LrScheduler for Chainable<R> {
    fn step(&mut self, _metric: Option<f64>) {
        self.step_count += 1;
        let core = &mut self.core;
        core.last_epoch += 1;
        let (epoch, count) = (core.last_epoch, self.step_count);
        for (lr, base) in core.lrs.iter_mut().zip(&core.base_lrs) {
            *lr = self.rule.chained(epoch, count, *lr, *base);
        }
    }

    fn core(&self) -> &ScheduleCore {
        &self.core
    }

    fn core_mut(&mut self) -> &mut ScheduleCore {
        &mut self.core
    }

    fn state(&self) -> SchedulerState {
        self.core
            .state()
            .with_counter("step_count", self.step_count)
    }

    fn load_state(&mut self, state: &SchedulerState) -> Result<(), SchedError> {
        let mut core = self.core.clone();
        core.load(state)?;
        self.step_count = state.counter("step_count")?;
        self.core = core;
        Ok(())
    }

    fn restart(&mut self) {
        self.step_count = 0;
        self.core.last_epoch = -1;
        self.step(None);
    }

    fn step_to(&mut self, epoch: u64) {
        self.step_count += 1;
        let core = &mut self.core;
        core.last_epoch = epoch as i64;
        for (lr, base) in core.lrs.iter_mut().zip(&core.base_lrs) {
            *lr = self.rule.closed_form(epoch as i64, *base);
        }
    }
}
