//! `ExponentialLR`: multiplies the learning rate by `gamma` every step.
//!
//! `lr_t = base_lr * gamma^t`. Matches `torch.optim.lr_scheduler.ExponentialLR`.

use serde::{Deserialize, Serialize};

use crate::{ChainRule, Chainable};
use crate::{LrScheduler, LrSchedulerConfig, SchedError};

/// Config of `ExponentialLR` (`type = "ExponentialLR"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExponentialLrConfig {
    /// `gamma`: multiplicative decay per step. Required by PyTorch; Tuna default 0.95.
    pub gamma: f64,
    /// `last_epoch`: must be -1 (PyTorch default); resume with `load_state`.
    pub last_epoch: i64,
}

impl Default for ExponentialLrConfig {
    fn default() -> Self {
        ExponentialLrConfig {
            gamma: 0.95,
            last_epoch: -1,
        }
    }
}

impl ChainRule for ExponentialLrConfig {
    fn chained(&self, epoch: i64, _: i64, lr: f64, _: f64) -> f64 {
        if epoch == 0 {
            lr
        } else {
            lr * self.gamma
        }
    }

    fn closed_form(&self, epoch: i64, base_lr: f64) -> f64 {
        base_lr * self.gamma.powf(epoch as f64)
    }
}

/// The running `ExponentialLR` schedule, which [`ExponentialLrConfig`] builds (as a `Box<dyn LrScheduler>`).
pub type ExponentialLr = Chainable<ExponentialLrConfig>;

#[typetag::serde(name = "ExponentialLR")]
impl LrSchedulerConfig for ExponentialLrConfig {
    fn validate(&self) -> Result<(), SchedError> {
        if !self.gamma.is_finite() || self.gamma < 0.0 {
            return Err(SchedError::invalid(
                self.name(),
                "gamma",
                format!("must be a finite number >= 0, got {}", self.gamma),
            ));
        }
        crate::check_last_epoch(self.name(), self.last_epoch)
    }

    fn build(&self, base_lrs: &[f64]) -> Result<Box<dyn LrScheduler>, SchedError> {
        self.validate()?;
        Chainable::boxed(self.clone(), base_lrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn validation() {
        let e = ExponentialLrConfig {
            gamma: -0.5,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "ExponentialLR.gamma: must be a finite number >= 0, got -0.5"
        );
    }

    #[test]
    fn round_trip_and_resume() {
        let c = ExponentialLrConfig {
            gamma: 0.5,
            last_epoch: -1,
        };
        assert_round_trip(&c);
        assert_resume(&c, &[0.1], 6, None);
        let mut s = c.build(&[1.0]).unwrap();
        assert_eq!(sequence(s.as_mut(), 3, None), [1.0, 0.5, 0.25, 0.125]);
    }
}
