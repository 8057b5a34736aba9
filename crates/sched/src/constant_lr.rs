//! `ConstantLR`: multiplies the learning rate by a constant `factor` for the first
//! `total_iters` steps, then restores it.
//!
//! `lr_t = base_lr * factor` for `t < total_iters`, `base_lr` afterwards (recursive form: the
//! constructor multiplies the current lr by `factor`, step `total_iters` divides it back).
//! Matches `torch.optim.lr_scheduler.ConstantLR`.

use serde::{Deserialize, Serialize};

use crate::{ChainRule, Chainable};
use crate::{LrScheduler, LrSchedulerConfig, SchedError};

/// Config of `ConstantLR` (`type = "ConstantLR"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConstantLrConfig {
    /// `factor`: the multiplier applied until `total_iters`, in (0, 1]. PyTorch default 1/3.
    pub factor: f64,
    /// `total_iters`: the number of steps the factor applies. PyTorch default 5.
    pub total_iters: i64,
    /// `last_epoch`: must be -1 (PyTorch default); resume with `load_state`.
    pub last_epoch: i64,
}

impl Default for ConstantLrConfig {
    fn default() -> Self {
        ConstantLrConfig {
            factor: 1.0 / 3.0,
            total_iters: 5,
            last_epoch: -1,
        }
    }
}

impl ChainRule for ConstantLrConfig {
    fn chained(&self, epoch: i64, _: i64, lr: f64, _: f64) -> f64 {
        if epoch == 0 {
            lr * self.factor
        } else if epoch != self.total_iters {
            lr
        } else {
            lr * (1.0 / self.factor)
        }
    }

    fn closed_form(&self, epoch: i64, base_lr: f64) -> f64 {
        let done = if epoch >= self.total_iters { 1.0 } else { 0.0 };
        base_lr * (self.factor + done * (1.0 - self.factor))
    }
}

/// The running `ConstantLR` schedule, which [`ConstantLrConfig`] builds (as a `Box<dyn LrScheduler>`).
pub type ConstantLr = Chainable<ConstantLrConfig>;

#[typetag::serde(name = "ConstantLR")]
impl LrSchedulerConfig for ConstantLrConfig {
    fn validate(&self) -> Result<(), SchedError> {
        if !(self.factor > 0.0 && self.factor <= 1.0) {
            return Err(SchedError::invalid(
                self.name(),
                "factor",
                format!("must be in (0, 1], got {}", self.factor),
            ));
        }
        if self.total_iters < 0 {
            return Err(SchedError::invalid(
                self.name(),
                "total_iters",
                format!("must be >= 0, got {}", self.total_iters),
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
        let e = ConstantLrConfig {
            factor: 1.5,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "ConstantLR.factor: must be in (0, 1], got 1.5"
        );
        let e = ConstantLrConfig {
            total_iters: -2,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("ConstantLR.total_iters"));
    }

    #[test]
    fn round_trip_and_resume() {
        let c = ConstantLrConfig {
            factor: 0.5,
            total_iters: 3,
            last_epoch: -1,
        };
        assert_round_trip(&c);
        assert_round_trip(&ConstantLrConfig::default());
        assert_resume(&c, &[0.1], 6, None);
        let mut s = c.build(&[1.0]).unwrap();
        assert_eq!(sequence(s.as_mut(), 4, None), [0.5, 0.5, 0.5, 1.0, 1.0]);
    }
}
