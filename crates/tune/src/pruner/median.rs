//! Optuna's `MedianPruner` (its `PercentilePruner` at 50 %).

use serde::{Deserialize, Serialize};

use super::Pruner;
use crate::error::TuneError;
use crate::trial::{Direction, FrozenTrial, TrialState};

/// Prunes a trial whose best intermediate value so far is worse than the median of the
/// complete trials' values at the same step (Optuna's `MedianPruner`).
///
/// At `step` (1-based epoch), with `c` complete trials:
/// - no pruning while `c == 0` or `c < n_startup_trials`;
/// - no pruning during the first `n_warmup_steps` epochs (`step <= n_warmup_steps`);
/// - then only at epochs `n_warmup_steps + 1`, `+ interval_steps`, ... (if a trial skips a
///   checkpoint, its first report after it is checked: Optuna's `_is_first_in_interval_step`);
/// - a trial whose values so far are all NaN is pruned;
/// - the complete trials that reported a value at exactly `step` give the median (linear
///   interpolation between the middle two, NaN ignored); fewer than `n_min_trials` of them
///   means no pruning;
/// - prune when the trial's best value so far (min when minimizing, max when maximizing,
///   over its values up to `step`) is strictly worse than that median.
///
/// Optuna counts steps from 0; here the epoch `e` plays Optuna's step `e - 1`, so the
/// arguments keep their meaning ("the first `n_warmup_steps` steps are warm-up").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MedianPruner {
    /// No pruning until this many trials are complete.
    pub n_startup_trials: usize,
    /// No pruning during a trial's first this many steps.
    pub n_warmup_steps: u64,
    /// Check every this many steps after the warm-up (at least 1).
    pub interval_steps: u64,
    /// No pruning at a step with fewer complete trials reporting it.
    pub n_min_trials: usize,
}

impl Default for MedianPruner {
    fn default() -> Self {
        MedianPruner {
            n_startup_trials: 5,
            n_warmup_steps: 0,
            interval_steps: 1,
            n_min_trials: 1,
        }
    }
}

impl MedianPruner {
    /// Whether `step` is the first report of `trial` at or after a pruning checkpoint.
    fn is_check_step(&self, trial: &FrozenTrial, step: u64) -> bool {
        // Optuna's 0-based step of epoch `step`.
        let s = step as i128 - 1;
        let warmup = self.n_warmup_steps as i128;
        let interval = self.interval_steps.max(1) as i128;
        let nearest_lower_check = (s - warmup).div_euclid(interval) * interval + warmup;
        let second_last = trial
            .intermediate
            .keys()
            .filter(|&&k| k != step && k < step)
            .map(|&k| k as i128 - 1)
            .max()
            .unwrap_or(-1);
        second_last < nearest_lower_check
    }
}

/// The `q`-th percentile (0..=100) of the non-NaN `values`, linear interpolation (numpy's
/// default); NaN when there are none.
pub(crate) fn percentile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let pos = q / 100.0 * (v.len() - 1) as f64;
    let i = pos.floor() as usize;
    let frac = pos - i as f64;
    if i + 1 < v.len() {
        v[i] + (v[i + 1] - v[i]) * frac
    } else {
        v[i]
    }
}

#[typetag::serde(name = "MedianPruner")]
impl Pruner for MedianPruner {
    fn validate(&self) -> crate::error::Result<()> {
        if self.interval_steps < 1 {
            return Err(TuneError::config(
                "MedianPruner.interval_steps",
                format!("must be at least 1, got {}", self.interval_steps),
            ));
        }
        if self.n_min_trials < 1 {
            return Err(TuneError::config(
                "MedianPruner.n_min_trials",
                format!("must be at least 1, got {}", self.n_min_trials),
            ));
        }
        Ok(())
    }
    fn prune(
        &self,
        trial: &FrozenTrial,
        step: u64,
        trials: &[FrozenTrial],
        direction: Direction,
    ) -> bool {
        let completed: Vec<&FrozenTrial> = trials
            .iter()
            .filter(|t| t.state == TrialState::Complete && t.number != trial.number)
            .collect();
        if completed.is_empty() || completed.len() < self.n_startup_trials {
            return false;
        }
        if !trial.intermediate.contains_key(&step) {
            return false;
        }
        if step <= self.n_warmup_steps {
            return false;
        }
        if !self.is_check_step(trial, step) {
            return false;
        }
        let own: Vec<f64> = trial
            .intermediate
            .range(..=step)
            .map(|(_, &v)| v)
            .filter(|v| !v.is_nan())
            .collect();
        if own.is_empty() {
            return true;
        }
        let best = match direction {
            Direction::Minimize => own.iter().copied().fold(f64::INFINITY, f64::min),
            Direction::Maximize => own.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        };
        let at_step: Vec<f64> = completed
            .iter()
            .filter_map(|t| t.intermediate.get(&step).copied())
            .collect();
        if at_step.len() < self.n_min_trials.max(1) {
            return false;
        }
        let median = percentile(&at_step, 50.0);
        if median.is_nan() {
            return false;
        }
        match direction {
            Direction::Minimize => best > median,
            Direction::Maximize => best < median,
        }
    }
}
