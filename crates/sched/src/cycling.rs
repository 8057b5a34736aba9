//! The `LrScheduler` impl shared by the schedules that cycle momentum (`CyclicLR`,
//! `OneCycleLR`): both keep `base_lrs`, `lrs`, an optional `momentum` and `last_epoch`, and
//! recompute them in an `update()` method from `last_epoch`.

/// Implements `LrScheduler` for `$ty` (with fields `base_lrs`, `lrs`, `momentum:
/// Option<Vec<f64>>`, `last_epoch: i64` and a method `update(&mut self)`), naming the
/// schedule `$name` in state errors.
macro_rules! cycling_scheduler {
    ($ty:ty, $name:expr) => {
        impl $crate::LrScheduler for $ty {
            fn step(&mut self, _metric: Option<f64>) {
                self.last_epoch += 1;
                self.update();
            }

            $crate::accessors::scheduler_accessors!(momentum);

            fn state(&self) -> $crate::SchedulerState {
                let mut s =
                    $crate::SchedulerState::new($name, self.last_epoch, &self.base_lrs, &self.lrs);
                s.momentum = self.momentum.clone();
                s
            }

            fn load_state(
                &mut self,
                state: &$crate::SchedulerState,
            ) -> Result<(), $crate::SchedError> {
                state.expect($name, self.lrs.len())?;
                if state.momentum.is_some() != self.momentum.is_some() {
                    return Err($crate::SchedError::State(format!(
                        "{}: the state and this schedule disagree on cycle_momentum",
                        $name
                    )));
                }
                self.last_epoch = state.last_epoch;
                self.base_lrs = state.base_lrs.clone();
                self.lrs = state.lrs.clone();
                self.momentum = state.momentum.clone();
                Ok(())
            }

            fn set_lrs(&mut self, lrs: &[f64]) {
                self.lrs.copy_from_slice(lrs);
            }

            fn restart(&mut self) {
                self.last_epoch = 0;
                self.update();
            }

            fn step_to(&mut self, epoch: u64) {
                self.last_epoch = epoch as i64;
                self.update();
            }
        }
    };
}
pub(crate) use cycling_scheduler;
