//! `StepLR`: decays the learning rate by `gamma` every `step_size` steps.
//!
//! `lr_t = base_lr * gamma^floor(t / step_size)`, computed recursively as PyTorch does (the lr
//! is multiplied by `gamma` whenever `t % step_size == 0`, so it composes in a chain).
//! Matches `torch.optim.lr_scheduler.StepLR`.

use serde::{Deserialize, Serialize};

use crate::{ChainRule, Chainable};
use crate::{LrScheduler, LrSchedulerConfig, SchedError};

/// Config of `StepLR` (`type = "StepLR"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StepLrConfig {
    /// `step_size`: period of the decay, in steps. Required by PyTorch; Tuna default 1.
    pub step_size: i64,
    /// `gamma`: multiplicative decay factor. PyTorch default 0.1.
    pub gamma: f64,
    /// `last_epoch`: must be -1 (PyTorch default); resume with `load_state`.
    pub last_epoch: i64,
}

impl Default for StepLrConfig {
    fn default() -> Self {
        StepLrConfig {
            step_size: 1,
            gamma: 0.1,
            last_epoch: -1,
        }
    }
}

impl ChainRule for StepLrConfig {
    fn chained(&self, epoch: i64, _: i64, lr: f64, _: f64) -> f64 {
        if epoch == 0 || epoch % self.step_size != 0 {
            lr
        } else {
            lr * self.gamma
        }
    }

    fn closed_form(&self, epoch: i64, base_lr: f64) -> f64 {
        base_lr * self.gamma.powf((epoch / self.step_size) as f64)
    }
}

/// The running `StepLR` schedule, which [`StepLrConfig`] builds (as a `Box<dyn LrScheduler>`).
pub type StepLr = Chainable<StepLrConfig>;

#[typetag::serde(name = "StepLR")]
impl LrSchedulerConfig for StepLrConfig {
    fn validate(&self) -> Result<(), SchedError> {
        if self.step_size < 1 {
            return Err(SchedError::invalid(
                self.name(),
                "step_size",
                format!("must be a positive integer, got {}", self.step_size),
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
        let e = StepLrConfig {
            step_size: 0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "StepLR.step_size: must be a positive integer, got 0"
        );
        let e = StepLrConfig {
            gamma: -1.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("StepLR.gamma:"), "{e}");
        let e = StepLrConfig {
            last_epoch: 3,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(
            e.to_string().starts_with("StepLR.last_epoch: only -1"),
            "{e}"
        );
        let e =
            serde_json::from_str::<Box<dyn LrSchedulerConfig>>(r#"{"type":"StepLR","stepsize":3}"#)
                .unwrap_err();
        assert!(e.to_string().contains("unknown field `stepsize`"), "{e}");
    }

    #[test]
    fn defaults_are_pytorchs() {
        let c: Box<dyn LrSchedulerConfig> =
            serde_json::from_str(r#"{"type":"StepLR","step_size":3}"#).unwrap();
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["gamma"], 0.1);
        assert_eq!(json["last_epoch"], -1);
    }

    #[test]
    fn round_trip_and_resume() {
        let c = StepLrConfig {
            step_size: 3,
            gamma: 0.5,
            last_epoch: -1,
        };
        assert_round_trip(&c);
        assert_resume(&c, &[0.1, 0.2], 10, None);
        let mut s = c.build(&[1.0]).unwrap();
        assert_eq!(
            sequence(s.as_mut(), 6, None),
            [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
        );
    }
}
