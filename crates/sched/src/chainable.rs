//! The shared runtime of PyTorch's "chainable" schedules (StepLR, MultiStepLR, ConstantLR,
//! LinearLR, ExponentialLR, PolynomialLR, CosineAnnealingLR): each step multiplies or shifts
//! the *current* lr (which a preceding scheduler in a chain may have changed), exactly as
//! PyTorch's recursive `get_lr()` does, and `step_to` uses PyTorch's `_get_closed_form_lr()`.

use std::fmt::Debug;

use crate::{LrScheduler, SchedError, SchedulerState};

/// One chainable rule: PyTorch's `get_lr()` and `_get_closed_form_lr()` for one group.
pub(crate) trait ChainRule: Clone + Debug + Send + Sync + 'static {
    /// The PyTorch class name.
    const NAME: &'static str;
    /// The recursive form: the new lr at `epoch` (>= 0) from the current `lr`.
    /// `step_count` is PyTorch's `_step_count` (1 on the constructor's step).
    fn chained(&self, epoch: i64, step_count: i64, lr: f64, base_lr: f64) -> f64;
    /// The closed form: the lr at `epoch` from the base lr.
    fn closed_form(&self, epoch: i64, base_lr: f64) -> f64;
}

/// A running chainable schedule.
#[derive(Debug, Clone)]
pub(crate) struct Chainable<R> {
    rule: R,
    base_lrs: Vec<f64>,
    lrs: Vec<f64>,
    last_epoch: i64,
    step_count: i64,
}

impl<R: ChainRule> Chainable<R> {
    /// Constructs on groups whose lr is `base_lrs` and performs the initial step.
    pub(crate) fn boxed(rule: R, base_lrs: &[f64]) -> Result<Box<dyn LrScheduler>, SchedError> {
        crate::check_base_lrs(base_lrs)?;
        let mut s = Chainable {
            rule,
            base_lrs: base_lrs.to_vec(),
            lrs: base_lrs.to_vec(),
            last_epoch: -1,
            step_count: 0,
        };
        s.restart();
        Ok(Box::new(s))
    }
}

impl<R: ChainRule> LrScheduler for Chainable<R> {
    fn step(&mut self, _metric: Option<f64>) {
        self.step_count += 1;
        self.last_epoch += 1;
        let (epoch, count) = (self.last_epoch, self.step_count);
        for (lr, base) in self.lrs.iter_mut().zip(&self.base_lrs) {
            *lr = self.rule.chained(epoch, count, *lr, *base);
        }
    }

    crate::accessors::scheduler_accessors!();

    fn state(&self) -> SchedulerState {
        SchedulerState::new(R::NAME, self.last_epoch, &self.base_lrs, &self.lrs)
            .with_counter("step_count", self.step_count)
    }

    fn load_state(&mut self, state: &SchedulerState) -> Result<(), SchedError> {
        state.expect(R::NAME, self.lrs.len())?;
        self.step_count = state.counter("step_count")?;
        self.last_epoch = state.last_epoch;
        self.base_lrs = state.base_lrs.clone();
        self.lrs = state.lrs.clone();
        Ok(())
    }

    fn set_lrs(&mut self, lrs: &[f64]) {
        self.lrs.copy_from_slice(lrs);
    }

    fn restart(&mut self) {
        self.step_count = 0;
        self.last_epoch = -1;
        self.step(None);
    }

    fn step_to(&mut self, epoch: u64) {
        self.step_count += 1;
        self.last_epoch = epoch as i64;
        for (lr, base) in self.lrs.iter_mut().zip(&self.base_lrs) {
            *lr = self.rule.closed_form(epoch as i64, *base);
        }
    }
}
