//! Distributions of the search space and the parameters that use them.

use serde::{Deserialize, Serialize};

/// Where a parameter's values come from (Optuna's distributions).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Distribution {
    /// Uniform on `[low, high]` (`FloatDistribution(low, high)`).
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Log-uniform on `[low, high]`, `0 < low` (`FloatDistribution(low, high, log=True)`).
    LogUniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Integers `low, low + step, ..., <= high`, optionally log-spaced
    /// (`IntDistribution(low, high, step, log)`; `log` requires `step = 1`).
    Int {
        /// Lower bound.
        low: i64,
        /// Upper bound (inclusive).
        high: i64,
        /// Spacing.
        step: i64,
        /// Sample on a log scale.
        log: bool,
    },
    /// One of `n` options (`CategoricalDistribution`); samplers only see the index.
    Choice {
        /// The number of options.
        n: usize,
    },
}

/// One searched parameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    /// Its name: the path in the experiment (`optimizer.lr`), or for a parameter inside a
    /// choice option, `<choice path>[<option>].<sub path>` (`optimizer[0].momentum`).
    pub name: String,
    /// Its distribution.
    pub distribution: Distribution,
    /// Only sampled when the named choice parameter took this option index.
    pub condition: Option<(String, usize)>,
}
