//! The `LrScheduler` accessors every runtime schedule with the usual fields implements the
//! same way.

/// Implements `lrs`, `base_lrs` and `last_epoch` (and `momentum` with `momentum`) inside an
/// `impl LrScheduler` block for a struct with fields `lrs: Vec<f64>`, `base_lrs: Vec<f64>`,
/// `last_epoch: i64` (and `momentum: Option<Vec<f64>>`).
macro_rules! scheduler_accessors {
    () => {
        fn lrs(&self) -> Vec<f64> {
            self.lrs.clone()
        }

        fn base_lrs(&self) -> Vec<f64> {
            self.base_lrs.clone()
        }

        fn last_epoch(&self) -> i64 {
            self.last_epoch
        }
    };
    (momentum) => {
        $crate::accessors::scheduler_accessors!();

        fn momentum(&self) -> Option<Vec<f64>> {
            self.momentum.clone()
        }
    };
}
pub(crate) use scheduler_accessors;

/// Implements `state` and `load_state` for a schedule that nests others (`children`) and keeps
/// the usual fields (`lrs`, `base_lrs`, `last_epoch`, `momentum`): its own values plus each
/// child's state, checked and restored in order.
macro_rules! composite_state {
    ($name:expr) => {
        fn state(&self) -> $crate::SchedulerState {
            let mut s =
                $crate::SchedulerState::new($name, self.last_epoch, &self.base_lrs, &self.lrs);
            s.momentum = self.momentum.clone();
            s.children = self.children.iter().map(|c| c.state()).collect();
            s
        }

        fn load_state(&mut self, state: &$crate::SchedulerState) -> Result<(), $crate::SchedError> {
            state.expect($name, self.lrs.len())?;
            state.expect_children(self.children.len())?;
            for (child, s) in self.children.iter_mut().zip(&state.children) {
                child.load_state(s)?;
            }
            self.last_epoch = state.last_epoch;
            self.base_lrs = state.base_lrs.clone();
            self.lrs = state.lrs.clone();
            self.momentum = state.momentum.clone();
            Ok(())
        }
    };
}
pub(crate) use composite_state;
