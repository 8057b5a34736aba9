//! Samplers: propose a value for one parameter from the trials so far.
//!
//! - [`RandomSampler`]: independent uniform sampling (Optuna's `RandomSampler`).
//! - [`GridSampler`]: the Cartesian product of a per-parameter grid, in a fixed order by trial
//!   number (Optuna's `GridSampler`, with grids derived from the distributions).
//! - [`TpeSampler`]: independent Tree-structured Parzen Estimator with Optuna's defaults
//!   (Optuna's `TPESampler`).

use rand_chacha::ChaCha8Rng;

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
}
