//! Samplers: propose a value for one parameter from the trials so far.
//!
//! - [`RandomSampler`]: independent uniform sampling (Optuna's `RandomSampler`).
//! - [`GridSampler`]: the Cartesian product of a per-parameter grid, in a fixed order by trial
//!   number (Optuna's `GridSampler`, with grids derived from the distributions).
//! - [`TpeSampler`]: independent Tree-structured Parzen Estimator with Optuna's defaults
//!   (Optuna's `TPESampler`).
//!
//! A sampler is a plugin like a loss or an optimizer: the space file's `[sampler]` table
//! names it by its `type` (the Optuna class name) with its arguments, and a user's own
//! sampler registers itself with one `#[typetag::serde(name = "MySampler")]` line on its
//! `impl Sampler` (see `examples/custom_plugin.rs`).

/// The random generator a sampler draws from (seeded per trial by the study), re-exported so
/// a user sampler names the same type.
pub use rand_chacha::ChaCha8Rng;

use crate::error::Result;
use crate::space::ParamSpec;
use crate::trial::ParamValue;
use crate::trial::{Direction, FrozenTrial};

mod grid;
mod parzen;
mod random;
mod tpe;

pub use grid::GridSampler;
pub use random::RandomSampler;
pub use tpe::{default_gamma, default_weights, TpeSampler};

/// Proposes parameter values (Optuna's `BaseSampler.sample_independent`).
///
/// `trials` holds every trial of the study except the one being sampled (all states; a
/// sampler uses the complete ones, and may use pruned ones' intermediate values);
/// `number` is the new trial's number; `rng` is seeded from the study seed and the trial
/// number, so a study is reproducible.
///
/// Serialized as an internally tagged table (`type = "TPESampler"` and the arguments), like
/// every Tuna plugin.
#[typetag::serde(tag = "type")]
pub trait Sampler: Send + Sync + std::fmt::Debug {
    /// A value for `param`.
    fn sample(
        &self,
        param: &ParamSpec,
        space: &[ParamSpec],
        trials: &[FrozenTrial],
        direction: Direction,
        number: u64,
        rng: &mut ChaCha8Rng,
    ) -> ParamValue;

    /// Checks the arguments (called when the space file is read).
    ///
    /// # Errors
    /// [`TuneError::Config`](crate::TuneError::Config) naming the argument
    /// (`<Type>.<argument>`) and what was expected.
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// The most trials worth running over `space` (a grid's size: the study stops there);
    /// `None` for no limit.
    fn trial_limit(&self, _space: &[ParamSpec]) -> Option<u64> {
        None
    }
}
