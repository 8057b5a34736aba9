//! Pruners: decide from intermediate values whether a running trial should stop.
//!
//! - [`MedianPruner`]: prune a trial whose best value so far is worse than the median of the
//!   complete trials at the same step (Optuna's `MedianPruner`).
//! - [`SuccessiveHalvingPruner`]: asynchronous successive halving, ASHA (Optuna's
//!   `SuccessiveHalvingPruner`).
//! - [`HyperbandPruner`]: several ASHA brackets with different early-stopping rates, a trial's
//!   bracket from a hash of its number (Optuna's `HyperbandPruner`).
//!
//! Steps are epochs, 1-based: the value reported at step `e` is the objective after `e`
//! epochs, so "resource" and "step" are the same number. All pruners are stateless: what
//! Optuna keeps in trial system attributes (ASHA's rung values, Hyperband's resolved
//! `max_resource`) is recomputed from the trials' intermediate values on each call, so a
//! resumed or multi-process study prunes exactly as an uninterrupted one.
//!
//! A pruner is a plugin like a loss or an optimizer: the space file's `[pruner]` table names
//! it by its `type` (the Optuna class name) with its arguments, and a user's own pruner
//! registers itself with one `#[typetag::serde(name = "MyPruner")]` line on its
//! `impl Pruner` (see `examples/custom_plugin.rs`).

use crate::error::Result;
use crate::trial::{Direction, FrozenTrial};

mod hyperband;
mod median;
mod successive_halving;

pub use hyperband::HyperbandPruner;
pub use median::MedianPruner;
pub use successive_halving::SuccessiveHalvingPruner;

/// Decides whether `trial` (running, having just reported the value of `step`) should stop
/// (Optuna's `BasePruner.prune`). `trials` holds every other trial of the study.
///
/// Serialized as an internally tagged table (`type = "MedianPruner"` and the arguments),
/// like every Tuna plugin.
#[typetag::serde(tag = "type")]
pub trait Pruner: Send + Sync + std::fmt::Debug {
    /// The tag this config is written with (`type = "..."`: the PyTorch, torchvision or
    /// Optuna class name where there is one).
    fn name(&self) -> &'static str {
        self.typetag_name()
    }

    /// `true` to prune now.
    fn prune(
        &self,
        trial: &FrozenTrial,
        step: u64,
        trials: &[FrozenTrial],
        direction: Direction,
    ) -> bool;

    /// Checks the arguments as Optuna's constructor does (called when the space file is
    /// read).
    ///
    /// # Errors
    /// [`TuneError::Config`](crate::TuneError::Config) naming the argument
    /// (`<Type>.<argument>`) and what was expected.
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// Tells the pruner the study's name before the first trial (Hyperband hashes it with
    /// the trial number to pick a trial's bracket, as Optuna does).
    fn set_study_name(&mut self, _name: &str) {}
}

/// Never prunes (Optuna's `NopPruner`).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NopPruner {}

#[typetag::serde(name = "NopPruner")]
impl Pruner for NopPruner {
    fn prune(
        &self,
        _trial: &FrozenTrial,
        _step: u64,
        _trials: &[FrozenTrial],
        _direction: Direction,
    ) -> bool {
        false
    }
}

/// The last step of the lowest-numbered complete trial that reported any value: the
/// study's "first completed trial" from which `auto` resources are estimated.
pub(crate) fn first_complete_last_step(trials: &[FrozenTrial]) -> Option<u64> {
    trials
        .iter()
        .filter(|t| t.state == crate::trial::TrialState::Complete)
        .filter_map(|t| t.intermediate.keys().next_back().map(|&s| (t.number, s)))
        .min_by_key(|&(number, _)| number)
        .map(|(_, s)| s)
}
