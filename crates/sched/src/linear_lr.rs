//! `LinearLR`: scales the learning rate linearly from `start_factor * base_lr` to
//! `end_factor * base_lr` over `total_iters` steps, then holds it.
//!
//! `lr_t = base_lr * (start + (end - start) * min(t, total_iters) / total_iters)`, computed in
//! PyTorch's recursive form. Matches `torch.optim.lr_scheduler.LinearLR`.

use serde::{Deserialize, Serialize};

use crate::{ChainRule, Chainable};
use crate::{LrScheduler, LrSchedulerConfig, SchedError};

/// Config of `LinearLR` (`type = "LinearLR"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinearLrConfig {
    /// `start_factor`: the multiplier at step 0, in (0, 1]. PyTorch default 1/3.
    pub start_factor: f64,
    /// `end_factor`: the multiplier from `total_iters` on, in [0, 1]. PyTorch default 1.0.
    pub end_factor: f64,
    /// `total_iters`: the number of steps of the ramp. PyTorch default 5.
    pub total_iters: i64,
    /// `last_epoch`: must be -1 (PyTorch default); resume with `load_state`.
    pub last_epoch: i64,
}

impl Default for LinearLrConfig {
    fn default() -> Self {
        LinearLrConfig {
            start_factor: 1.0 / 3.0,
            end_factor: 1.0,
            total_iters: 5,
            last_epoch: -1,
        }
    }
}

impl ChainRule for LinearLrConfig {
    fn chained(&self, epoch: i64, _: i64, lr: f64, _: f64) -> f64 {
        if epoch == 0 {
            return lr * self.start_factor;
        }
        if epoch > self.total_iters {
            return lr;
        }
        let (s, e) = (self.start_factor, self.end_factor);
        lr * (1.0 + (e - s) / (self.total_iters as f64 * s + (epoch - 1) as f64 * (e - s)))
    }

    fn closed_form(&self, epoch: i64, base_lr: f64) -> f64 {
        let (s, e) = (self.start_factor, self.end_factor);
        base_lr * (s + (e - s) * self.total_iters.min(epoch) as f64 / self.total_iters as f64)
    }
}

/// The running `LinearLR` schedule, which [`LinearLrConfig`] builds (as a `Box<dyn LrScheduler>`).
pub type LinearLr = Chainable<LinearLrConfig>;

#[typetag::serde(name = "LinearLR")]
impl LrSchedulerConfig for LinearLrConfig {
    fn validate(&self) -> Result<(), SchedError> {
        if !(self.start_factor > 0.0 && self.start_factor <= 1.0) {
            return Err(SchedError::invalid(
                self.name(),
                "start_factor",
                format!("must be in (0, 1], got {}", self.start_factor),
            ));
        }
        if !(self.end_factor >= 0.0 && self.end_factor <= 1.0) {
            return Err(SchedError::invalid(
                self.name(),
                "end_factor",
                format!("must be in [0, 1], got {}", self.end_factor),
            ));
        }
        if self.total_iters < 1 {
            return Err(SchedError::invalid(
                self.name(),
                "total_iters",
                format!("must be a positive integer, got {}", self.total_iters),
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
        let e = LinearLrConfig {
            start_factor: 0.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "LinearLR.start_factor: must be in (0, 1], got 0"
        );
        let e = LinearLrConfig {
            end_factor: 2.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("LinearLR.end_factor"));
        let e = LinearLrConfig {
            total_iters: 0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("LinearLR.total_iters"));
    }

    #[test]
    fn round_trip_and_resume() {
        let c = LinearLrConfig {
            start_factor: 0.25,
            end_factor: 1.0,
            total_iters: 3,
            last_epoch: -1,
        };
        assert_round_trip(&c);
        assert_resume(&c, &[0.1, 1.0], 6, None);
        let mut s = c.build(&[1.0]).unwrap();
        assert_close(&sequence(s.as_mut(), 4, None), &[0.25, 0.5, 0.75, 1.0, 1.0]);
    }
}
