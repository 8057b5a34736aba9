//! Samplers: propose a value for one parameter from the trials so far.
//!
//! - [`RandomSampler`]: independent uniform sampling (Optuna's `RandomSampler`).
//! - [`GridSampler`]: the Cartesian product of a per-parameter grid, in a fixed order by trial
//!   number (Optuna's `GridSampler`, with grids derived from the distributions).
//! - [`TpeSampler`]: Tree-structured Parzen Estimator, independent or multivariate, with or
//!   without the constant liar (Optuna's `TPESampler`); its density model is
//!   [`ParzenEstimator`].
//!
//! A sampler is a plugin like a loss or an optimizer: the space file's `[sampler]` table
//! names it by its `type` (the Optuna class name) with its arguments, and a user's own
//! sampler registers itself with one `#[typetag::serde(name = "MySampler")]` line on its
//! `impl Sampler` (see `examples/custom_plugin.rs`).

/// The random generator a sampler draws from (seeded per trial by the study), re-exported so
/// a user sampler names the same type.
pub use rand_chacha::ChaCha8Rng;

use std::collections::BTreeMap;

use crate::error::Result;
use crate::space::ParamSpec;
use crate::trial::ParamValue;
use crate::trial::{Direction, FrozenTrial};

mod grid;
mod parzen;
mod random;
mod tpe;

pub use grid::GridSampler;
pub use parzen::{ParzenEstimator, ParzenParams};
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
    /// The tag this config is written with (`type = "..."`: the PyTorch, torchvision or
    /// Optuna class name where there is one).
    fn name(&self) -> &'static str {
        self.typetag_name()
    }

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

    /// Values for several parameters drawn together (Optuna's `infer_relative_search_space`
    /// and `sample_relative`), asked once per trial before [`Sampler::sample`]; the study
    /// then calls `sample` for every active parameter missing from the result. Return only
    /// unconditional parameters of `space`. The default draws none (independent sampling).
    fn sample_joint(
        &self,
        _space: &[ParamSpec],
        _trials: &[FrozenTrial],
        _direction: Direction,
        _number: u64,
        _rng: &mut ChaCha8Rng,
    ) -> BTreeMap<String, ParamValue> {
        BTreeMap::new()
    }

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
