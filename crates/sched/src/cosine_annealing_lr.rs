//! `CosineAnnealingLR`: anneals the learning rate along a cosine from `base_lr` to `eta_min`
//! over `T_max` steps (SGDR without restarts, Loshchilov & Hutter 2017).
//!
//! `lr_t = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2` for `t <= T_max`.
//! Computed in PyTorch's recursive form, so stepping past `T_max` continues as PyTorch does
//! (the lr rises back along the cosine towards `base_lr` over the next `T_max` steps).
//! Matches `torch.optim.lr_scheduler.CosineAnnealingLR`.

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

use crate::{ChainRule, Chainable};
use crate::{LrScheduler, LrSchedulerConfig, SchedError};

/// Config of `CosineAnnealingLR` (`type = "CosineAnnealingLR"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CosineAnnealingLrConfig {
    /// `T_max`: the number of steps of the half cosine. Required by PyTorch; left out (0) in
    /// an experiment file, the trainer fills in the run's number of scheduler steps (epochs,
    /// or epochs × batches with `interval = "batch"`) and says so.
    #[serde(rename = "T_max", skip_serializing_if = "is_unset")]
    pub t_max: i64,
    /// `eta_min`: the minimum learning rate. PyTorch default 0.0.
    pub eta_min: f64,
    /// `last_epoch`: must be -1 (PyTorch default); resume with `load_state`.
    pub last_epoch: i64,
}

impl Default for CosineAnnealingLrConfig {
    fn default() -> Self {
        CosineAnnealingLrConfig {
            t_max: 0,
            eta_min: 0.0,
            last_epoch: -1,
        }
    }
}

fn is_unset(t_max: &i64) -> bool {
    *t_max == 0
}

impl ChainRule for CosineAnnealingLrConfig {
    fn chained(&self, epoch: i64, step_count: i64, lr: f64, base_lr: f64) -> f64 {
        let t_max = self.t_max as f64;
        let eta_min = self.eta_min;
        if epoch == 0 {
            lr
        } else if step_count == 1 && epoch > 0 {
            eta_min + (base_lr - eta_min) * (1.0 + (epoch as f64 * PI / t_max).cos()) / 2.0
        } else if (epoch - 1 - self.t_max).rem_euclid(2 * self.t_max) == 0 {
            lr + (base_lr - eta_min) * (1.0 - (PI / t_max).cos()) / 2.0
        } else {
            (1.0 + (PI * epoch as f64 / t_max).cos())
                / (1.0 + (PI * (epoch - 1) as f64 / t_max).cos())
                * (lr - eta_min)
                + eta_min
        }
    }

    fn closed_form(&self, epoch: i64, base_lr: f64) -> f64 {
        let eta_min = self.eta_min;
        eta_min + (base_lr - eta_min) * (1.0 + (PI * epoch as f64 / self.t_max as f64).cos()) / 2.0
    }
}

/// The running `CosineAnnealingLR` schedule, which [`CosineAnnealingLrConfig`] builds (as a `Box<dyn LrScheduler>`).
pub type CosineAnnealingLr = Chainable<CosineAnnealingLrConfig>;

#[typetag::serde(name = "CosineAnnealingLR")]
impl LrSchedulerConfig for CosineAnnealingLrConfig {
    fn validate(&self) -> Result<(), SchedError> {
        if self.t_max < 1 {
            return Err(SchedError::invalid(
                self.name(),
                "T_max",
                format!("must be a positive integer, got {}", self.t_max),
            ));
        }
        if !self.eta_min.is_finite() || self.eta_min < 0.0 {
            return Err(SchedError::invalid(
                self.name(),
                "eta_min",
                format!("must be a finite number >= 0, got {}", self.eta_min),
            ));
        }
        crate::check_last_epoch(self.name(), self.last_epoch)
    }

    fn build(&self, base_lrs: &[f64]) -> Result<Box<dyn LrScheduler>, SchedError> {
        self.validate()?;
        Chainable::boxed(self.clone(), base_lrs)
    }

    fn fill_total_steps(&mut self, total_steps: u64) {
        if self.t_max == 0 {
            self.t_max = total_steps.min(i64::MAX as u64) as i64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn validation() {
        let e = CosineAnnealingLrConfig {
            t_max: 0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "CosineAnnealingLR.T_max: must be a positive integer, got 0"
        );
        let e = CosineAnnealingLrConfig {
            t_max: 10,
            eta_min: -1.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("CosineAnnealingLR.eta_min"));
    }

    #[test]
    fn round_trip_and_resume() {
        let c = CosineAnnealingLrConfig {
            t_max: 4,
            eta_min: 0.01,
            last_epoch: -1,
        };
        assert_round_trip(&c);
        assert!(serde_json::to_string(&c).unwrap().contains("\"T_max\":4"));
        assert_resume(&c, &[0.1], 12, None);
    }

    #[test]
    fn recursive_form_follows_closed_form_within_t_max() {
        let c = CosineAnnealingLrConfig {
            t_max: 10,
            eta_min: 0.001,
            last_epoch: -1,
        };
        let mut s = c.build(&[0.1]).unwrap();
        let seq = sequence(s.as_mut(), 10, None);
        let closed: Vec<f64> = (0..=10).map(|t| c.closed_form(t, 0.1)).collect();
        for (a, b) in seq.iter().zip(&closed) {
            assert!((a - b).abs() < 1e-15, "{a} vs {b}");
        }
    }
}
