//! Grid search (Optuna's `GridSampler`, with the grid derived from the distributions).

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::random::{align_int, int_count};
use super::Sampler;
use crate::space::{Distribution, ParamSpec};
use crate::trial::{Direction, FrozenTrial, ParamValue};

/// Enumerates the Cartesian product of a grid per parameter, in a fixed order by trial number.
///
/// Each parameter's grid ([`GridSampler::grid_values`]):
/// - `Uniform`: `points` evenly spaced values from `low` to `high` inclusive;
/// - `LogUniform`: `points` log-spaced values from `low` to `high` inclusive;
/// - `Int`: every value when there are at most `points` of them, else `points` values spread
///   evenly (linear, or log-spaced when `log`) and rounded to the step (duplicates after
///   rounding are dropped, so a log int grid may be shorter);
/// - `Choice`: every option.
///
/// Trial `number` takes grid point `number % grid_size(space)`, written in mixed radix over
/// the parameters in `space` order, the *last* parameter varying fastest (like nested loops
/// written in `space` order). So the first [`GridSampler::grid_size`] trials visit every
/// combination exactly once, and later trials cycle through the grid again (the runner should
/// stop after `grid_size` trials, as Optuna's grid sampler stops the study). Optuna visits the
/// grid in a random order; this one is fixed, so a resumed or parallel study never needs
/// to know which points are taken beyond the trial numbers.
///
/// Conditional parameters: every parameter of `space`, conditional or not, is a digit of the
/// product, and a parameter is read off its own digit of `number` independently of the
/// others. When a condition does not hold the parameter is simply not sampled, so such trials
/// repeat combinations of the active parameters (the grid is then larger than needed, never
/// incomplete: every combination of active values still appears in the first `grid_size`
/// trials).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GridSampler {
    /// Grid points for each continuous distribution (and the most for an int one).
    pub points: usize,
}

impl Default for GridSampler {
    fn default() -> Self {
        GridSampler { points: 5 }
    }
}

impl GridSampler {
    /// A grid with `points` values per continuous parameter.
    pub fn new(points: usize) -> Self {
        GridSampler { points }
    }

    /// The grid of one distribution, in increasing order.
    pub fn grid_values(&self, distribution: &Distribution) -> Vec<ParamValue> {
        let points = self.points.max(1);
        match *distribution {
            Distribution::Uniform { low, high } => linspace(low, high, points)
                .into_iter()
                .map(ParamValue::Float)
                .collect(),
            Distribution::LogUniform { low, high } => {
                let mut v: Vec<f64> = linspace(low.ln(), high.ln(), points)
                    .into_iter()
                    .map(f64::exp)
                    .collect();
                // Exact endpoints despite exp(ln(x)) rounding.
                if let Some(first) = v.first_mut() {
                    *first = low;
                }
                if points > 1 {
                    if let Some(last) = v.last_mut() {
                        *last = high;
                    }
                }
                v.into_iter().map(ParamValue::Float).collect()
            }
            Distribution::Int {
                low,
                high,
                step,
                log,
            } => {
                let step = step.max(1);
                let n = int_count(low, high, step);
                if n as u64 <= points as u64 {
                    return (0..n).map(|k| ParamValue::Int(low + k * step)).collect();
                }
                let top = low + (n - 1) * step;
                let raw: Vec<f64> = if log && low > 0 {
                    linspace((low as f64).ln(), (top as f64).ln(), points)
                        .into_iter()
                        .map(f64::exp)
                        .collect()
                } else {
                    linspace(low as f64, top as f64, points)
                };
                let mut out: Vec<i64> = raw
                    .into_iter()
                    .map(|x| align_int(x, low, high, step))
                    .collect();
                out.dedup();
                out.into_iter().map(ParamValue::Int).collect()
            }
            Distribution::Choice { n } => (0..n.max(1)).map(ParamValue::Choice).collect(),
        }
    }

    /// How many combinations the grid over `space` has (the product of the per-parameter
    /// grid sizes; 1 for an empty space).
    pub fn grid_size(&self, space: &[ParamSpec]) -> u64 {
        space
            .iter()
            .map(|p| self.grid_values(&p.distribution).len() as u64)
            .fold(1u64, |acc, n| acc.saturating_mul(n.max(1)))
    }

    /// The grid index (into [`GridSampler::grid_values`]) that trial `number` uses for the
    /// parameter at position `position` of `space`.
    pub fn grid_index(&self, space: &[ParamSpec], position: usize, number: u64) -> usize {
        let size = self.grid_size(space);
        let mut rest = number % size;
        // Digits from the last parameter (fastest) to the first.
        for (i, p) in space.iter().enumerate().rev() {
            let n = self.grid_values(&p.distribution).len().max(1) as u64;
            if i == position {
                return (rest % n) as usize;
            }
            rest /= n;
        }
        0
    }
}

#[typetag::serde(name = "GridSampler")]
impl Sampler for GridSampler {
    fn sample(
        &self,
        param: &ParamSpec,
        space: &[ParamSpec],
        _trials: &[FrozenTrial],
        _direction: Direction,
        number: u64,
        _rng: &mut ChaCha8Rng,
    ) -> ParamValue {
        let values = self.grid_values(&param.distribution);
        let index = match space.iter().position(|p| p.name == param.name) {
            Some(position) => self.grid_index(space, position, number),
            // Not in the space (should not happen): cycle through its own grid.
            None => (number % values.len() as u64) as usize,
        };
        values[index]
    }

    fn trial_limit(&self, space: &[ParamSpec]) -> Option<u64> {
        Some(self.grid_size(space))
    }
}

/// `n` evenly spaced values from `a` to `b` inclusive (`[a]` when `n == 1`).
fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    if n <= 1 {
        return vec![a];
    }
    (0..n)
        .map(|i| {
            if i == n - 1 {
                b
            } else {
                a + (b - a) * i as f64 / (n - 1) as f64
            }
        })
        .collect()
}
