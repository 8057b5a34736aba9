//! Samplers: propose a value for one parameter from the trials so far.

use rand_chacha::ChaCha8Rng;

use crate::space::ParamSpec;
use crate::trial::ParamValue;
use crate::trial::{Direction, FrozenTrial};

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
