//! `CosineAnnealingWarmRestarts`: cosine annealing from `base_lr` to `eta_min` with warm
//! restarts every `T_i` steps, where `T_0` is the first period and each period is `T_mult`
//! times the previous one (SGDR, Loshchilov & Hutter 2017).
//!
//! `lr_t = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2`, where `T_cur` is
//! the number of steps since the last restart. Matches
//! `torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`.

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

use crate::{LrScheduler, LrSchedulerConfig, SchedError, ScheduleCore, SchedulerState};

/// Config of `CosineAnnealingWarmRestarts` (`type = "CosineAnnealingWarmRestarts"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CosineAnnealingWarmRestartsConfig {
    /// `T_0`: the length of the first period, in steps. Required by PyTorch; Tuna default 10.
    #[serde(rename = "T_0")]
    pub t_0: i64,
    /// `T_mult`: the factor by which each period grows (integer >= 1). PyTorch default 1.
    #[serde(rename = "T_mult")]
    pub t_mult: i64,
    /// `eta_min`: the minimum learning rate. PyTorch default 0.0.
    pub eta_min: f64,
    /// `last_epoch`: must be -1 (PyTorch default); resume with `load_state`.
    pub last_epoch: i64,
}

impl Default for CosineAnnealingWarmRestartsConfig {
    fn default() -> Self {
        CosineAnnealingWarmRestartsConfig {
            t_0: 10,
            t_mult: 1,
            eta_min: 0.0,
            last_epoch: -1,
        }
    }
}

#[typetag::serde(name = "CosineAnnealingWarmRestarts")]
impl LrSchedulerConfig for CosineAnnealingWarmRestartsConfig {
    fn validate(&self) -> Result<(), SchedError> {
        if self.t_0 < 1 {
            return Err(SchedError::invalid(
                self.name(),
                "T_0",
                format!("must be a positive integer, got {}", self.t_0),
            ));
        }
        if self.t_mult < 1 {
            return Err(SchedError::invalid(
                self.name(),
                "T_mult",
                format!("must be an integer >= 1, got {}", self.t_mult),
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
        crate::check_base_lrs(base_lrs)?;
        let mut s = CosineAnnealingWarmRestarts {
            config: self.clone(),
            core: ScheduleCore::new(self.name(), base_lrs),
            t_i: self.t_0,
            t_cur: -1.0,
        };
        s.restart();
        Ok(Box::new(s))
    }
}

/// The running schedule.
#[derive(Debug, Clone)]
struct CosineAnnealingWarmRestarts {
    config: CosineAnnealingWarmRestartsConfig,
    core: ScheduleCore,
    t_i: i64,
    t_cur: f64,
}

impl CosineAnnealingWarmRestarts {
    fn update_lrs(&mut self) {
        let eta_min = self.config.eta_min;
        let c = (1.0 + (PI * self.t_cur / self.t_i as f64).cos()) / 2.0;
        let core = &mut self.core;
        for (lr, base) in core.lrs.iter_mut().zip(&core.base_lrs) {
            *lr = eta_min + (base - eta_min) * c;
        }
    }
}

impl LrScheduler for CosineAnnealingWarmRestarts {
    fn step(&mut self, _metric: Option<f64>) {
        if self.core.last_epoch < 0 {
            self.step_to(0);
            return;
        }
        self.core.last_epoch += 1;
        self.t_cur += 1.0;
        if self.t_cur >= self.t_i as f64 {
            self.t_cur -= self.t_i as f64;
            self.t_i *= self.config.t_mult;
        }
        self.update_lrs();
    }

    fn core(&self) -> &ScheduleCore {
        &self.core
    }

    fn core_mut(&mut self) -> &mut ScheduleCore {
        &mut self.core
    }

    fn state(&self) -> SchedulerState {
        self.core
            .state()
            .with_counter("T_i", self.t_i)
            .with_value("T_cur", self.t_cur)
    }

    fn load_state(&mut self, state: &SchedulerState) -> Result<(), SchedError> {
        let mut core = self.core.clone();
        core.load(state)?;
        self.t_i = state.counter("T_i")?;
        self.t_cur = *state
            .values
            .get("T_cur")
            .ok_or_else(|| SchedError::State(format!("{}: missing value `T_cur`", core.name)))?;
        self.core = core;
        Ok(())
    }

    fn restart(&mut self) {
        self.core.last_epoch = -1;
        self.t_i = self.config.t_0;
        self.t_cur = -1.0;
        self.step(None);
    }

    fn step_to(&mut self, epoch: u64) {
        let (t_0, t_mult) = (self.config.t_0, self.config.t_mult);
        let e = epoch as f64;
        if epoch as i64 >= t_0 {
            if t_mult == 1 {
                self.t_cur = (epoch as i64 % t_0) as f64;
            } else {
                let n = ((e / t_0 as f64 * (t_mult - 1) as f64 + 1.0).ln() / (t_mult as f64).ln())
                    as i32;
                self.t_cur = e - t_0 as f64 * ((t_mult as f64).powi(n) - 1.0) / (t_mult - 1) as f64;
                self.t_i = t_0 * t_mult.pow(n as u32);
            }
        } else {
            self.t_i = t_0;
            self.t_cur = e;
        }
        self.core.last_epoch = epoch as i64;
        self.update_lrs();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn validation() {
        let e = CosineAnnealingWarmRestartsConfig {
            t_0: 0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "CosineAnnealingWarmRestarts.T_0: must be a positive integer, got 0"
        );
        let e = CosineAnnealingWarmRestartsConfig {
            t_mult: 0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("CosineAnnealingWarmRestarts.T_mult"));
    }

    #[test]
    fn round_trip_and_resume() {
        let c = CosineAnnealingWarmRestartsConfig {
            t_0: 3,
            t_mult: 2,
            eta_min: 0.001,
            last_epoch: -1,
        };
        assert_round_trip(&c);
        assert_resume(&c, &[0.1], 25, None);
    }

    #[test]
    fn step_to_matches_stepping() {
        let c = CosineAnnealingWarmRestartsConfig {
            t_0: 3,
            t_mult: 2,
            eta_min: 0.0,
            last_epoch: -1,
        };
        let mut a = c.build(&[1.0]).unwrap();
        for e in 1..30u64 {
            a.step(None);
            let mut b = c.build(&[1.0]).unwrap();
            b.step_to(e);
            assert!((a.lrs()[0] - b.lrs()[0]).abs() < 1e-12, "epoch {e}");
        }
    }
}
