//! Hyperband (Li et al. 2017) over ASHA brackets, as Optuna's `HyperbandPruner`.

use serde::{Deserialize, Serialize};

use super::successive_halving::asha_prune;
use super::{first_complete_last_step, Pruner};
use crate::error::TuneError;
use crate::trial::{Direction, FrozenTrial};

/// Hyperband (Optuna's `HyperbandPruner`): `n_brackets = ⌊log_η(max_resource /
/// min_resource)⌋ + 1` ASHA brackets, bracket `b` with `min_early_stopping_rate = b` (so its
/// first rung ends at `min_resource · η^b` epochs; the last bracket never prunes before
/// `max_resource`). Each trial belongs to one bracket, chosen from
/// `crc32("{study_name}_{number}")` modulo the total budget, the brackets taking shares
/// `⌈n_brackets · η^s / (s + 1)⌉` with `s = n_brackets - 1 - b` (more trials in the aggressive
/// brackets), exactly as Optuna; a trial only competes with trials of its own bracket.
///
/// `max_resource = None` is Optuna's `"auto"`: the last step of the first complete trial; no
/// pruning until a trial completes.
///
/// Differences from Optuna: `n_brackets` is computed in integers (Optuna's floating-point
/// `log` gives one bracket fewer at exact powers such as 243 = 3^5); Optuna's 0-based
/// `last_step + 1` is our 1-based last step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HyperbandPruner {
    /// Epochs of the first rung of the most aggressive bracket.
    pub min_resource: u64,
    /// Epochs of a full trial; `None` = auto.
    pub max_resource: Option<u64>,
    /// `η` (at least 2).
    pub reduction_factor: u64,
    /// As [`SuccessiveHalvingPruner::bootstrap_count`](super::SuccessiveHalvingPruner).
    pub bootstrap_count: usize,
    /// The study's name, hashed with the trial number into the bracket (set by the runner;
    /// not part of the configuration).
    #[serde(skip)]
    pub study_name: String,
}

impl Default for HyperbandPruner {
    fn default() -> Self {
        HyperbandPruner {
            min_resource: 1,
            max_resource: None,
            reduction_factor: 3,
            bootstrap_count: 0,
            study_name: String::new(),
        }
    }
}

impl HyperbandPruner {
    /// The same pruner for the study `name`.
    pub fn with_study_name(mut self, name: impl Into<String>) -> Self {
        self.study_name = name.into();
        self
    }

    /// The `max_resource` in effect given the study's trials (`None` while auto and no trial
    /// is complete).
    pub fn resolve_max_resource(&self, trials: &[FrozenTrial]) -> Option<u64> {
        self.max_resource
            .or_else(|| first_complete_last_step(trials))
    }

    /// `⌊log_η(max_resource / min_resource)⌋ + 1` (at least 1).
    pub fn n_brackets(&self, max_resource: u64) -> u32 {
        let eta = self.reduction_factor.max(2);
        let mut r = self.min_resource.max(1);
        let mut n = 1;
        while let Some(next) = r.checked_mul(eta) {
            if next > max_resource {
                break;
            }
            r = next;
            n += 1;
        }
        n
    }

    /// Each bracket's share of trials, `⌈n_brackets · η^s / (s + 1)⌉`, `s = n_brackets - 1 - b`.
    pub fn bracket_budgets(&self, n_brackets: u32) -> Vec<u64> {
        let eta = self.reduction_factor.max(2) as u128;
        (0..n_brackets)
            .map(|b| {
                let s = n_brackets - 1 - b;
                let num = (n_brackets as u128).saturating_mul(eta.saturating_pow(s));
                num.div_ceil(s as u128 + 1).min(u64::MAX as u128) as u64
            })
            .collect()
    }

    /// The bracket of trial `number` among `n_brackets`.
    pub fn bracket_of(&self, number: u64, n_brackets: u32) -> u32 {
        self.bracket_in(number, &self.bracket_budgets(n_brackets))
    }

    /// The bracket of trial `number` given the brackets' budgets.
    fn bracket_in(&self, number: u64, budgets: &[u64]) -> u32 {
        let total: u64 = budgets.iter().fold(0u64, |a, &b| a.saturating_add(b));
        let mut n =
            crc32(format!("{}_{}", self.study_name, number).as_bytes()) as u64 % total.max(1);
        for (b, &budget) in budgets.iter().enumerate() {
            if n < budget {
                return b as u32;
            }
            n -= budget;
        }
        budgets.len().saturating_sub(1) as u32
    }
}

#[typetag::serde(name = "HyperbandPruner")]
impl Pruner for HyperbandPruner {
    fn set_study_name(&mut self, name: &str) {
        self.study_name = name.to_string();
    }

    fn validate(&self) -> crate::error::Result<()> {
        if self.min_resource < 1 {
            return Err(TuneError::config(
                "HyperbandPruner.min_resource",
                "must be at least 1, got 0",
            ));
        }
        if self.reduction_factor < 2 {
            return Err(TuneError::config(
                "HyperbandPruner.reduction_factor",
                format!("must be at least 2, got {}", self.reduction_factor),
            ));
        }
        if self.bootstrap_count > 0 && self.max_resource.is_none() {
            return Err(TuneError::config(
                "HyperbandPruner.bootstrap_count",
                "must be 0 unless max_resource is set (it is auto)",
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
        let Some(max_resource) = self.resolve_max_resource(trials) else {
            return false;
        };
        let n_brackets = self.n_brackets(max_resource);
        let bracket = self.bracket_of(trial.number, n_brackets);
        let same_bracket = trials
            .iter()
            .filter(|t| self.bracket_of(t.number, n_brackets) == bracket);
        asha_prune(
            trial,
            step,
            same_bracket,
            self.min_resource.max(1),
            self.reduction_factor,
            bracket,
            self.bootstrap_count,
            direction,
        )
    }
}

/// CRC-32 (IEEE 802.3, as Python's `binascii.crc32` and zlib).
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= byte as u32;
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_zlib() {
        // binascii.crc32(b"123456789") == 0xCBF43926 (the standard check value).
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }
}
