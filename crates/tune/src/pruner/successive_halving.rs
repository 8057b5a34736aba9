//! Asynchronous successive halving (ASHA; Li et al. 2018), as Optuna's
//! `SuccessiveHalvingPruner`.

use serde::{Deserialize, Serialize};

use super::{first_complete_last_step, Pruner};
use crate::error::TuneError;
use crate::trial::{Direction, FrozenTrial};

/// Asynchronous successive halving (Optuna's `SuccessiveHalvingPruner`).
///
/// Rung `r` ends at epoch `min_resource · reduction_factor^(min_early_stopping_rate + r)`.
/// When a trial first reaches (or passes) the end of a rung, its value there is compared with
/// the values every other trial recorded at that rung (the value at the first step it
/// reported at or after the rung's end; NaN ignored): with `k` competing values including its
/// own, it is promoted when it ranks within the best `max(1, ⌊k / reduction_factor⌋)`,
/// else pruned. So early on (fewer than `reduction_factor` values) only a trial at least as
/// good as every earlier one continues, as Optuna. A NaN value at a rung end is pruned;
/// with `bootstrap_count > 0` a trial is pruned while the rung holds at most
/// `bootstrap_count` values (Optuna's rule).
///
/// `min_resource = None` is Optuna's `"auto"`: the last step of the first complete trial
/// divided by 100, at least 1; no pruning until a trial completes.
///
/// Differences from Optuna: rung values are read off the intermediate values instead of
/// stored as system attributes, so a trial that reached a rung before `auto` could be
/// resolved still counts there (Optuna never records those).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SuccessiveHalvingPruner {
    /// Epochs of the first rung (`r` in the paper); `None` = auto.
    pub min_resource: Option<u64>,
    /// Keep the top `1 / reduction_factor` at each rung (`η`, at least 2).
    pub reduction_factor: u64,
    /// Skip this many rungs (`s`): the first rung ends at `min_resource · η^s`.
    pub min_early_stopping_rate: u32,
    /// Prune while a rung holds at most this many values.
    pub bootstrap_count: usize,
}

impl Default for SuccessiveHalvingPruner {
    fn default() -> Self {
        SuccessiveHalvingPruner {
            min_resource: None,
            reduction_factor: 4,
            min_early_stopping_rate: 0,
            bootstrap_count: 0,
        }
    }
}

impl SuccessiveHalvingPruner {
    /// The `min_resource` in effect given the study's trials (`None` while auto and no trial
    /// is complete).
    pub fn resolve_min_resource(&self, trials: &[FrozenTrial]) -> Option<u64> {
        match self.min_resource {
            Some(r) => Some(r.max(1)),
            None => first_complete_last_step(trials).map(|s| (s / 100).max(1)),
        }
    }

    /// The epoch at which rung `rung` ends, `None` past `u64::MAX`.
    pub fn rung_step(&self, min_resource: u64, rung: u32) -> Option<u64> {
        rung_step(
            min_resource,
            self.reduction_factor,
            self.min_early_stopping_rate,
            rung,
        )
    }
}

/// `min_resource · η^(s + rung)`, `None` on overflow.
pub(crate) fn rung_step(min_resource: u64, eta: u64, s: u32, rung: u32) -> Option<u64> {
    let exp = s.checked_add(rung)?;
    eta.max(2)
        .checked_pow(exp)?
        .checked_mul(min_resource.max(1))
}

/// The value `trial` recorded at the rung ending at `rung_end`: its first reported value at
/// or after it.
fn rung_value(trial: &FrozenTrial, rung_end: u64) -> Option<f64> {
    trial.intermediate.range(rung_end..).next().map(|(_, &v)| v)
}

/// ASHA's decision for `trial` at `step` against `competitors` (Optuna's loop over rungs).
pub(crate) fn asha_prune<'a>(
    trial: &FrozenTrial,
    step: u64,
    competitors: impl Iterator<Item = &'a FrozenTrial> + Clone,
    min_resource: u64,
    eta: u64,
    s: u32,
    bootstrap_count: usize,
    direction: Direction,
) -> bool {
    let Some(&value) = trial.intermediate.get(&step) else {
        return false;
    };
    let previous = trial
        .intermediate
        .range(..step)
        .next_back()
        .map(|(&k, _)| k);
    let eta = eta.max(2);
    for rung in 0.. {
        let Some(end) = rung_step(min_resource, eta, s, rung) else {
            break;
        };
        if end > step {
            break;
        }
        if previous.is_some_and(|p| p >= end) {
            // Reached (and judged) at an earlier report.
            continue;
        }
        if value.is_nan() {
            return true;
        }
        let mut competing: Vec<f64> = competitors
            .clone()
            .filter(|t| t.number != trial.number)
            .filter_map(|t| rung_value(t, end))
            .filter(|v| !v.is_nan())
            .collect();
        competing.push(value);
        if competing.len() <= bootstrap_count {
            return true;
        }
        if !promotable(value, &mut competing, eta, direction) {
            return true;
        }
    }
    false
}

/// Whether `value` is within the best `max(1, ⌊len / η⌋)` of `competing` (which includes it).
fn promotable(value: f64, competing: &mut [f64], eta: u64, direction: Direction) -> bool {
    let keep = ((competing.len() as u64 / eta) as usize).max(1);
    competing.sort_by(f64::total_cmp);
    match direction {
        Direction::Minimize => value <= competing[keep - 1],
        Direction::Maximize => value >= competing[competing.len() - keep],
    }
}

#[typetag::serde(name = "SuccessiveHalvingPruner")]
impl Pruner for SuccessiveHalvingPruner {
    fn validate(&self) -> crate::error::Result<()> {
        if self.min_resource == Some(0) {
            return Err(TuneError::config(
                "SuccessiveHalvingPruner.min_resource",
                "must be at least 1, got 0",
            ));
        }
        if self.reduction_factor < 2 {
            return Err(TuneError::config(
                "SuccessiveHalvingPruner.reduction_factor",
                format!("must be at least 2, got {}", self.reduction_factor),
            ));
        }
        if self.bootstrap_count > 0 && self.min_resource.is_none() {
            return Err(TuneError::config(
                "SuccessiveHalvingPruner.bootstrap_count",
                "must be 0 unless min_resource is set (it is auto)",
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
        let Some(min_resource) = self.resolve_min_resource(trials) else {
            return false;
        };
        asha_prune(
            trial,
            step,
            trials.iter(),
            min_resource,
            self.reduction_factor,
            self.min_early_stopping_rate,
            self.bootstrap_count,
            direction,
        )
    }
}
