//! The values every running schedule keeps, and how they are saved and restored.

use crate::{LrScheduler, SchedError, SchedulerState};

/// The attributes every running schedule shares (PyTorch's `base_lrs`, the optimizer's
/// current `param_group["lr"]`, `last_epoch`, and the momentum a cyclic schedule sets).
///
/// A schedule keeps one of these and hands it out through [`LrScheduler::core`]; the trait's
/// provided methods read and save it, so a schedule implements only what is its own.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleCore {
    /// The schedule's name in saved states and errors (the PyTorch class name for built-ins).
    pub name: &'static str,
    /// The learning rate each parameter group started from (PyTorch `initial_lr`).
    pub base_lrs: Vec<f64>,
    /// The current learning rate of each group: what the next optimizer step uses.
    pub lrs: Vec<f64>,
    /// Steps taken since construction (PyTorch `last_epoch`): -1 before the constructor's
    /// initial step, 0 right after it.
    pub last_epoch: i64,
    /// The momentum (or Adam `beta1`) of each group, for schedules that cycle it.
    pub momentum: Option<Vec<f64>>,
}

impl ScheduleCore {
    /// A schedule named `name` on groups starting at `base_lrs`, before its initial step
    /// (`last_epoch = -1`, current lrs = base lrs, no momentum).
    pub fn new(name: &'static str, base_lrs: &[f64]) -> Self {
        ScheduleCore {
            name,
            base_lrs: base_lrs.to_vec(),
            lrs: base_lrs.to_vec(),
            last_epoch: -1,
            momentum: None,
        }
    }

    /// These values as a serializable snapshot.
    pub fn state(&self) -> SchedulerState {
        let mut s = SchedulerState::new(self.name, self.last_epoch, &self.base_lrs, &self.lrs);
        s.momentum = self.momentum.clone();
        s
    }

    /// Restores the values of a snapshot taken by [`state`](Self::state).
    ///
    /// # Errors
    /// [`SchedError::State`] if the snapshot names another schedule, has another number of
    /// groups, or disagrees on whether momentum is cycled; nothing is changed then.
    pub fn load(&mut self, state: &SchedulerState) -> Result<(), SchedError> {
        self.check(state)?;
        self.last_epoch = state.last_epoch;
        self.base_lrs.clone_from(&state.base_lrs);
        self.lrs.clone_from(&state.lrs);
        self.momentum.clone_from(&state.momentum);
        Ok(())
    }

    /// Whether a snapshot fits this schedule: its name, its number of groups, and whether it
    /// cycles momentum.
    fn check(&self, state: &SchedulerState) -> Result<(), SchedError> {
        state.expect(self.name, self.lrs.len())?;
        if state.momentum.is_some() != self.momentum.is_some() {
            return Err(SchedError::State(format!(
                "{}: the state and this schedule disagree on whether momentum is cycled",
                self.name
            )));
        }
        Ok(())
    }

    /// The snapshot of a schedule that nests `children`: these values plus each child's state.
    pub fn state_with(&self, children: &[Box<dyn LrScheduler>]) -> SchedulerState {
        let mut s = self.state();
        s.children = children.iter().map(|c| c.state()).collect();
        s
    }

    /// Restores a snapshot taken by [`state_with`](Self::state_with), children in order.
    ///
    /// # Errors
    /// As [`load`](Self::load), or when the number of nested states differs or a child's
    /// state does not load; nothing is changed then.
    pub fn load_with(
        &mut self,
        state: &SchedulerState,
        children: &mut [Box<dyn LrScheduler>],
    ) -> Result<(), SchedError> {
        self.check(state)?;
        state.expect_children(children.len())?;
        // Load into copies, so that a child that fails leaves every schedule as it was.
        let mut loaded = children.to_vec();
        for (child, s) in loaded.iter_mut().zip(&state.children) {
            child.load_state(s)?;
        }
        children.clone_from_slice(&loaded);
        self.load(state)
    }
}
