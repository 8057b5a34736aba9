//! The serializable runtime state of a schedule.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::SchedError;

/// A snapshot of a running schedule (PyTorch `scheduler.state_dict()`), serializable to JSON or
/// TOML. Built by [`LrScheduler::state`](crate::LrScheduler::state) and restored by
/// [`LrScheduler::load_state`](crate::LrScheduler::load_state) into a schedule built from the
/// same config.
///
/// Non-finite values (a plateau schedule's initial `best = inf`) are never stored, so the JSON
/// form is always valid.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerState {
    /// The schedule's `type` tag (`"StepLR"`), checked on load.
    pub kind: String,
    /// Steps taken since construction (PyTorch `last_epoch`).
    pub last_epoch: i64,
    /// The base learning rates.
    pub base_lrs: Vec<f64>,
    /// The current learning rates.
    pub lrs: Vec<f64>,
    /// The momentum last set, for schedules that cycle it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub momentum: Option<Vec<f64>>,
    /// Integer counters, by name (`step_count`, `num_bad_epochs`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counters: BTreeMap<String, i64>,
    /// Float values, by name (`best`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, f64>,
    /// The states of nested schedules, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<SchedulerState>,
}

impl SchedulerState {
    /// A state with the common fields set.
    pub fn new(kind: &str, last_epoch: i64, base_lrs: &[f64], lrs: &[f64]) -> Self {
        SchedulerState {
            kind: kind.to_string(),
            last_epoch,
            base_lrs: base_lrs.to_vec(),
            lrs: lrs.to_vec(),
            ..Default::default()
        }
    }

    /// Adds an integer counter.
    pub fn with_counter(mut self, name: &str, value: i64) -> Self {
        self.counters.insert(name.to_string(), value);
        self
    }

    /// Adds a float value; non-finite values are skipped (read them back with a default).
    pub fn with_value(mut self, name: &str, value: f64) -> Self {
        if value.is_finite() {
            self.values.insert(name.to_string(), value);
        }
        self
    }

    /// Checks that the state is of schedule `kind` with `groups` parameter groups.
    ///
    /// # Errors
    /// [`SchedError::State`] on a mismatch.
    pub fn expect(&self, kind: &str, groups: usize) -> Result<(), SchedError> {
        if self.kind != kind {
            return Err(SchedError::State(format!(
                "the state is of a {} schedule, this schedule is {kind}",
                self.kind
            )));
        }
        if self.lrs.len() != groups || self.base_lrs.len() != groups {
            return Err(SchedError::State(format!(
                "{kind}: the state has {} learning rates, this schedule has {groups} parameter groups",
                self.lrs.len()
            )));
        }
        if let Some(m) = &self.momentum {
            if m.len() != groups {
                return Err(SchedError::State(format!(
                    "{kind}: the state has {} momentum values, this schedule has {groups} parameter groups",
                    m.len()
                )));
            }
        }
        Ok(())
    }

    /// An integer counter.
    ///
    /// # Errors
    /// [`SchedError::State`] if it is missing.
    pub fn counter(&self, name: &str) -> Result<i64, SchedError> {
        self.counters
            .get(name)
            .copied()
            .ok_or_else(|| SchedError::State(format!("{}: missing counter `{name}`", self.kind)))
    }

    /// A float value, or `default` if absent (non-finite values are not stored).
    pub fn value_or(&self, name: &str, default: f64) -> f64 {
        self.values.get(name).copied().unwrap_or(default)
    }

    /// Checks that there are exactly `n` child states.
    ///
    /// # Errors
    /// [`SchedError::State`] on a mismatch.
    pub fn expect_children(&self, n: usize) -> Result<(), SchedError> {
        if self.children.len() != n {
            return Err(SchedError::State(format!(
                "{}: the state has {} nested schedules, this schedule has {n}",
                self.kind,
                self.children.len()
            )));
        }
        Ok(())
    }
}
