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
