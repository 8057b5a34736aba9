//! `PolynomialLR`: decays the learning rate polynomially to 0 over `total_iters` steps.
//!
//! `lr_t = base_lr * (1 - min(t, total_iters) / total_iters)^power`, computed in PyTorch's
//! recursive form. Matches `torch.optim.lr_scheduler.PolynomialLR`.

use serde::{Deserialize, Serialize};

use crate::{ChainRule, Chainable};
use crate::{LrScheduler, LrSchedulerConfig, SchedError};

/// Config of `PolynomialLR` (`type = "PolynomialLR"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolynomialLrConfig {
    /// `total_iters`: the number of steps to reach 0. PyTorch default 5.
    pub total_iters: i64,
    /// `power`: the polynomial's power. PyTorch default 1.0.
    pub power: f64,
    /// `last_epoch`: must be -1 (PyTorch default); resume with `load_state`.
    pub last_epoch: i64,
}

impl Default for PolynomialLrConfig {
    fn default() -> Self {
        PolynomialLrConfig {
            total_iters: 5,
            power: 1.0,
            last_epoch: -1,
        }
    }
}

impl ChainRule for PolynomialLrConfig {
    fn chained(&self, epoch: i64, _: i64, lr: f64, _: f64) -> f64 {
        if epoch == 0 || epoch > self.total_iters {
            return lr;
        }
        let total = self.total_iters as f64;
        let decay =
            ((1.0 - epoch as f64 / total) / (1.0 - (epoch - 1) as f64 / total)).powf(self.power);
        lr * decay
    }

    fn closed_form(&self, epoch: i64, base_lr: f64) -> f64 {
        let total = self.total_iters as f64;
        base_lr * (1.0 - self.total_iters.min(epoch) as f64 / total).powf(self.power)
    }
}

/// The running `PolynomialLR` schedule, which [`PolynomialLrConfig`] builds (as a `Box<dyn LrScheduler>`).
pub type PolynomialLr = Chainable<PolynomialLrConfig>;

#[typetag::serde(name = "PolynomialLR")]
impl LrSchedulerConfig for PolynomialLrConfig {
    fn validate(&self) -> Result<(), SchedError> {
        if self.total_iters < 1 {
            return Err(SchedError::invalid(
                self.name(),
                "total_iters",
                format!("must be a positive integer, got {}", self.total_iters),
            ));
        }
        if !self.power.is_finite() || self.power < 0.0 {
            return Err(SchedError::invalid(
                self.name(),
                "power",
                format!("must be a finite number >= 0, got {}", self.power),
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
        let e = PolynomialLrConfig {
            total_iters: 0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "PolynomialLR.total_iters: must be a positive integer, got 0"
        );
        let e = PolynomialLrConfig {
            power: -1.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("PolynomialLR.power"));
    }

    #[test]
    fn round_trip_and_resume() {
        let c = PolynomialLrConfig {
            total_iters: 4,
            power: 2.0,
            last_epoch: -1,
        };
        assert_round_trip(&c);
        assert_resume(&c, &[0.1], 7, None);
        let mut s = c.build(&[1.0]).unwrap();
        assert_close(
            &sequence(s.as_mut(), 5, None),
            &[1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0],
        );
    }
}
