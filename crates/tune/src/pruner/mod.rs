//! Pruners: decide from intermediate values whether a running trial should stop.

use crate::trial::{Direction, FrozenTrial};

/// Decides whether `trial` (running, having just reported the value of `step`) should stop
/// (Optuna's `BasePruner.prune`). `trials` holds every other trial of the study.
pub trait Pruner: Send + Sync + std::fmt::Debug {
    /// `true` to prune now.
    fn prune(
        &self,
        trial: &FrozenTrial,
        step: u64,
        trials: &[FrozenTrial],
        direction: Direction,
    ) -> bool;
}
