//! Uniform random sampling (Optuna's `RandomSampler`).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::Sampler;
use crate::space::{Distribution, ParamSpec};
use crate::trial::{Direction, FrozenTrial, ParamValue};

/// Samples every parameter independently and uniformly, ignoring past trials (Optuna's
/// `RandomSampler`; the seed is the study's).
///
/// - `Uniform`: uniform on `[low, high)`.
/// - `LogUniform`: `exp` of a uniform on `[ln low, ln high)`.
/// - `Int` (linear): each of `low, low + step, ..., <= high` with equal probability.
/// - `Int` (log): uniform on `[ln(low - step/2), ln(high + step/2))`, exponentiated and
///   rounded to the grid (as Optuna, which samples a log int in the transformed space).
/// - `Choice`: each index with equal probability.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomSampler {}

impl RandomSampler {
    /// A random sampler.
    pub fn new() -> Self {
        RandomSampler {}
    }

    /// One value of `distribution`, drawn from `rng`.
    pub fn sample_distribution(distribution: &Distribution, rng: &mut ChaCha8Rng) -> ParamValue {
        match *distribution {
            Distribution::Uniform { low, high } => {
                if high <= low {
                    ParamValue::Float(low)
                } else {
                    ParamValue::Float((low + rng.random::<f64>() * (high - low)).clamp(low, high))
                }
            }
            Distribution::LogUniform { low, high } => {
                if high <= low {
                    ParamValue::Float(low)
                } else {
                    let (a, b) = (low.ln(), high.ln());
                    ParamValue::Float((a + rng.random::<f64>() * (b - a)).exp().clamp(low, high))
                }
            }
            Distribution::Int {
                low,
                high,
                step,
                log,
            } => {
                let step = step.max(1);
                let n = int_count(low, high, step);
                if n <= 1 {
                    return ParamValue::Int(low);
                }
                if log {
                    let half = step as f64 / 2.0;
                    let a = (low as f64 - half).max(f64::MIN_POSITIVE).ln();
                    let b = (high as f64 + half).ln();
                    let x = (a + rng.random::<f64>() * (b - a)).exp();
                    ParamValue::Int(align_int(x, low, high, step))
                } else {
                    ParamValue::Int(low + rng.random_range(0..n) * step)
                }
            }
            Distribution::Choice { n } => {
                ParamValue::Choice(if n <= 1 { 0 } else { rng.random_range(0..n) })
            }
        }
    }
}

#[typetag::serde(name = "RandomSampler")]
impl Sampler for RandomSampler {
    fn sample(
        &self,
        param: &ParamSpec,
        _space: &[ParamSpec],
        _trials: &[FrozenTrial],
        _direction: Direction,
        _number: u64,
        rng: &mut ChaCha8Rng,
    ) -> ParamValue {
        Self::sample_distribution(&param.distribution, rng)
    }
}

/// How many values `low, low + step, ..., <= high` has (at least 1).
pub(crate) fn int_count(low: i64, high: i64, step: i64) -> i64 {
    if high <= low {
        1
    } else {
        (high - low) / step.max(1) + 1
    }
}

/// The grid value `low + k * step` nearest to `x`, within `[low, high]`.
pub(crate) fn align_int(x: f64, low: i64, high: i64, step: i64) -> i64 {
    let step = step.max(1);
    let last = int_count(low, high, step) - 1;
    let k = ((x - low as f64) / step as f64).round();
    let k = if k.is_nan() {
        0
    } else {
        (k.max(0.0) as i64).min(last)
    };
    low + k * step
}
