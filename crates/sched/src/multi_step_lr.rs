//! `MultiStepLR`: decays the learning rate by `gamma` at each milestone.
//!
//! `lr_t = base_lr * gamma^(number of milestones <= t)`; a milestone listed twice applies
//! `gamma` twice. Recursive form as in PyTorch. Matches `torch.optim.lr_scheduler.MultiStepLR`.

use serde::{Deserialize, Serialize};

use crate::{ChainRule, Chainable};
use crate::{LrScheduler, LrSchedulerConfig, SchedError};

/// Config of `MultiStepLR` (`type = "MultiStepLR"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultiStepLrConfig {
    /// `milestones`: the steps at which the lr is multiplied by `gamma`, increasing (a repeated
    /// milestone applies `gamma` twice). Required by PyTorch; Tuna default `[]`.
    pub milestones: Vec<i64>,
    /// `gamma`: multiplicative decay factor. PyTorch default 0.1.
    pub gamma: f64,
    /// `last_epoch`: must be -1 (PyTorch default); resume with `load_state`.
    pub last_epoch: i64,
}

impl Default for MultiStepLrConfig {
    fn default() -> Self {
        MultiStepLrConfig {
            milestones: Vec::new(),
            gamma: 0.1,
            last_epoch: -1,
        }
    }
}

impl ChainRule for MultiStepLrConfig {
    fn chained(&self, epoch: i64, _: i64, lr: f64, _: f64) -> f64 {
        let count = self.milestones.iter().filter(|&&m| m == epoch).count();
        if count == 0 {
            lr
        } else {
            lr * self.gamma.powf(count as f64)
        }
    }

    fn closed_form(&self, epoch: i64, base_lr: f64) -> f64 {
        let passed = self.milestones.iter().filter(|&&m| m <= epoch).count();
        base_lr * self.gamma.powf(passed as f64)
    }
}

/// The running `MultiStepLR` schedule, which [`MultiStepLrConfig`] builds (as a `Box<dyn LrScheduler>`).
pub type MultiStepLr = Chainable<MultiStepLrConfig>;

#[typetag::serde(name = "MultiStepLR")]
impl LrSchedulerConfig for MultiStepLrConfig {
    fn validate(&self) -> Result<(), SchedError> {
        if self.milestones.windows(2).any(|w| w[1] < w[0]) {
            return Err(SchedError::invalid(
                self.name(),
                "milestones",
                format!(
                    "must be increasing (a repeated milestone applies gamma twice), got {:?}",
                    self.milestones
                ),
            ));
        }
        if let Some(m) = self.milestones.iter().find(|&&m| m < 0) {
            return Err(SchedError::invalid(
                self.name(),
                "milestones",
                format!("must be >= 0, got {m}"),
            ));
        }
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
        let c = MultiStepLrConfig {
            milestones: vec![30, 10],
            ..Default::default()
        };
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "MultiStepLR.milestones: must be increasing (a repeated milestone applies gamma twice), got [30, 10]"
        );
        let c = MultiStepLrConfig {
            milestones: vec![-1],
            ..Default::default()
        };
        assert!(c.validate().is_err());
        let c = MultiStepLrConfig {
            gamma: f64::NAN,
            ..Default::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("MultiStepLR.gamma"));
    }

    #[test]
    fn round_trip_and_resume() {
        let c = MultiStepLrConfig {
            milestones: vec![2, 4, 4],
            gamma: 0.5,
            last_epoch: -1,
        };
        assert_round_trip(&c);
        assert_resume(&c, &[0.1], 8, None);
        let mut s = c.build(&[1.0]).unwrap();
        assert_eq!(
            sequence(s.as_mut(), 5, None),
            [1.0, 1.0, 0.5, 0.5, 0.125, 0.125]
        );
    }
}
