//! Values given once for all parameter groups or once per group.

use serde::{Deserialize, Serialize};

use crate::SchedError;

/// A float given either once for every parameter group (`max_lr = 0.1`) or once per group
/// (`max_lr = [0.1, 0.01]`), as PyTorch accepts a float or a list for `max_lr`, `base_lr`,
/// `base_momentum`, `max_momentum` and `min_lr`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerGroup {
    /// The same value for every group.
    All(f64),
    /// One value per group, in group order.
    Each(Vec<f64>),
}

impl Default for PerGroup {
    fn default() -> Self {
        PerGroup::All(0.0)
    }
}

impl From<f64> for PerGroup {
    fn from(v: f64) -> Self {
        PerGroup::All(v)
    }
}

impl From<Vec<f64>> for PerGroup {
    fn from(v: Vec<f64>) -> Self {
        PerGroup::Each(v)
    }
}

impl PerGroup {
    /// Every value, for validation.
    pub fn values(&self) -> &[f64] {
        match self {
            PerGroup::All(v) => std::slice::from_ref(v),
            PerGroup::Each(v) => v,
        }
    }

    /// One value per group for `groups` groups.
    ///
    /// # Errors
    /// [`SchedError::InvalidField`] naming `schedule.field` when a list has the wrong length.
    pub fn resolve(
        &self,
        groups: usize,
        schedule: &'static str,
        field: &'static str,
    ) -> Result<Vec<f64>, SchedError> {
        match self {
            PerGroup::All(v) => Ok(vec![*v; groups]),
            PerGroup::Each(v) if v.len() == groups => Ok(v.clone()),
            PerGroup::Each(v) => Err(SchedError::invalid(
                schedule,
                field,
                format!(
                    "expected one value per parameter group ({groups}), got {} values {v:?}",
                    v.len()
                ),
            )),
        }
    }

    /// Checks every value with `ok`, reporting `schedule.field: must be {what}, got ...`.
    /// Checks the cyclic-momentum bounds `base_momentum` and `max_momentum` of `schedule`
    /// (CyclicLR, OneCycleLR): every value finite.
    pub(crate) fn check_momentum_bounds(
        schedule: &'static str,
        base: &PerGroup,
        max: &PerGroup,
    ) -> Result<(), SchedError> {
        base.check(schedule, "base_momentum", "a finite number", f64::is_finite)?;
        max.check(schedule, "max_momentum", "a finite number", f64::is_finite)
    }

    pub(crate) fn check(
        &self,
        schedule: &'static str,
        field: &'static str,
        what: &str,
        ok: impl Fn(f64) -> bool,
    ) -> Result<(), SchedError> {
        if let PerGroup::Each(v) = self {
            if v.is_empty() {
                return Err(SchedError::invalid(
                    schedule,
                    field,
                    "must not be an empty list",
                ));
            }
        }
        match self.values().iter().find(|v| !ok(**v)) {
            Some(bad) => Err(SchedError::invalid(
                schedule,
                field,
                format!("must be {what}, got {bad}"),
            )),
            None => Ok(()),
        }
    }
}
