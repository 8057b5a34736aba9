//! `LinearWarmup` (not a PyTorch class): ramps the learning rate linearly from
//! `start_factor * base_lr` to `base_lr` over `warmup_steps` steps, then hands over to an
//! optional inner schedule, which starts at its own step 0.
//!
//! `lr_t = base_lr * (start_factor + (1 - start_factor) * t / warmup_steps)` for
//! `t < warmup_steps`; afterwards `lr_t = inner.lr(t - warmup_steps)` (or `base_lr` without an
//! inner schedule). The PyTorch equivalent is `SequentialLR([LinearLR(start_factor, 1.0,
//! warmup_steps), inner], milestones=[warmup_steps])`, in one short config:
//!
//! ```toml
//! type = "LinearWarmup"
//! warmup_steps = 500
//! scheduler = { type = "CosineAnnealingLR", T_max = 9500 }
//! ```
//!
//! During the warmup, the momentum (for an inner schedule that cycles it) is the inner
//! schedule's step-0 value, and metrics are not passed to the inner schedule.

use serde::{Deserialize, Serialize};

use crate::{LrScheduler, LrSchedulerConfig, SchedError, ScheduleCore, SchedulerState};

/// Config of `LinearWarmup` (`type = "LinearWarmup"`; Tuna-specific).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinearWarmupConfig {
    /// `warmup_steps`: the length of the ramp, in steps. Default 5.
    pub warmup_steps: i64,
    /// `start_factor`: the fraction of the base lr at step 0, in [0, 1]. Default 0.0.
    pub start_factor: f64,
    /// `scheduler`: the schedule that follows the warmup; `null` (default) holds the base lr.
    pub scheduler: Option<Box<dyn LrSchedulerConfig>>,
}

impl Default for LinearWarmupConfig {
    fn default() -> Self {
        LinearWarmupConfig {
            warmup_steps: 5,
            start_factor: 0.0,
            scheduler: None,
        }
    }
}

#[typetag::serde(name = "LinearWarmup")]
impl LrSchedulerConfig for LinearWarmupConfig {
    fn validate(&self) -> Result<(), SchedError> {
        if self.warmup_steps < 0 {
            return Err(SchedError::invalid(
                self.name(),
                "warmup_steps",
                format!("must be an integer >= 0, got {}", self.warmup_steps),
            ));
        }
        if !(0.0..=1.0).contains(&self.start_factor) {
            return Err(SchedError::invalid(
                self.name(),
                "start_factor",
                format!("must be in [0, 1], got {}", self.start_factor),
            ));
        }
        if let Some(inner) = &self.scheduler {
            inner
                .validate()
                .map_err(|e| SchedError::invalid(self.name(), "scheduler", e.to_string()))?;
        }
        Ok(())
    }

    fn build(&self, base_lrs: &[f64]) -> Result<Box<dyn LrScheduler>, SchedError> {
        self.validate()?;
        crate::check_base_lrs(base_lrs)?;
        let inner = match &self.scheduler {
            Some(c) => Some(
                c.build(base_lrs)
                    .map_err(|e| SchedError::invalid(self.name(), "scheduler", e.to_string()))?,
            ),
            None => None,
        };
        let mut s = LinearWarmup {
            warmup_steps: self.warmup_steps,
            start_factor: self.start_factor,
            inner,
            core: ScheduleCore::new(self.name(), base_lrs),
        };
        s.core.last_epoch = 0;
        s.update();
        Ok(Box::new(s))
    }

    fn cycles_momentum(&self) -> bool {
        self.scheduler.as_ref().is_some_and(|s| s.cycles_momentum())
    }

    fn fill_total_steps(&mut self, total_steps: u64) {
        if let Some(inner) = &mut self.scheduler {
            inner.fill_total_steps(total_steps.saturating_sub(self.warmup_steps.max(0) as u64));
        }
    }
}

/// The running schedule.
#[derive(Debug, Clone)]
struct LinearWarmup {
    warmup_steps: i64,
    start_factor: f64,
    inner: Option<Box<dyn LrScheduler>>,
    core: ScheduleCore,
}

impl LinearWarmup {
    fn update(&mut self) {
        let core = &mut self.core;
        if core.last_epoch < self.warmup_steps {
            let f = self.start_factor
                + (1.0 - self.start_factor) * core.last_epoch as f64 / self.warmup_steps as f64;
            for (lr, base) in core.lrs.iter_mut().zip(&core.base_lrs) {
                *lr = base * f;
            }
        } else if let Some(inner) = &self.inner {
            core.lrs = inner.lrs();
        } else {
            core.lrs.clone_from(&core.base_lrs);
        }
    }
}

impl LrScheduler for LinearWarmup {
    fn step(&mut self, metric: Option<f64>) {
        self.core.last_epoch += 1;
        if self.core.last_epoch > self.warmup_steps {
            if let Some(inner) = &mut self.inner {
                inner.set_lrs(&self.core.lrs);
                inner.step(metric);
            }
        }
        self.update();
    }

    fn core(&self) -> &ScheduleCore {
        &self.core
    }

    fn core_mut(&mut self) -> &mut ScheduleCore {
        &mut self.core
    }

    fn momentum(&self) -> Option<Vec<f64>> {
        self.inner.as_ref().and_then(|i| i.momentum())
    }

    fn state(&self) -> SchedulerState {
        self.core.state_with(self.inner.as_slice())
    }

    fn load_state(&mut self, state: &SchedulerState) -> Result<(), SchedError> {
        self.core.load_with(state, self.inner.as_mut_slice())
    }

    fn restart(&mut self) {
        self.step_to(0);
    }

    fn step_to(&mut self, epoch: u64) {
        self.core.last_epoch = epoch as i64;
        if let Some(inner) = &mut self.inner {
            inner.set_lrs(&self.core.base_lrs);
            inner.restart();
            if self.core.last_epoch > self.warmup_steps {
                inner.step_to((self.core.last_epoch - self.warmup_steps) as u64);
            }
        }
        self.update();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;
    use crate::{CosineAnnealingLrConfig, LinearLrConfig, OneCycleLrConfig, SequentialLrConfig};

    #[test]
    fn validation() {
        let e = LinearWarmupConfig {
            warmup_steps: -1,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "LinearWarmup.warmup_steps: must be an integer >= 0, got -1"
        );
        let e = LinearWarmupConfig {
            start_factor: 2.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("LinearWarmup.start_factor"));
        let e = LinearWarmupConfig {
            scheduler: Some(Box::new(CosineAnnealingLrConfig {
                t_max: 0,
                ..Default::default()
            })),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "LinearWarmup.scheduler: CosineAnnealingLR.T_max: must be a positive integer, got 0"
        );
    }

    #[test]
    fn round_trip_and_resume() {
        let c = LinearWarmupConfig {
            warmup_steps: 4,
            start_factor: 0.1,
            scheduler: Some(Box::new(OneCycleLrConfig {
                total_steps: Some(8),
                ..Default::default()
            })),
        };
        assert_round_trip(&c);
        assert_round_trip(&LinearWarmupConfig::default());
        assert_resume(&c, &[0.1, 0.2], 14, None);
        assert_resume(&LinearWarmupConfig::default(), &[0.1], 8, None);
    }

    #[test]
    fn equals_sequential_linear_then_cosine() {
        let warm = LinearWarmupConfig {
            warmup_steps: 5,
            start_factor: 0.2,
            scheduler: Some(Box::new(CosineAnnealingLrConfig {
                t_max: 10,
                ..Default::default()
            })),
        };
        let seq = SequentialLrConfig {
            schedulers: vec![
                Box::new(LinearLrConfig {
                    start_factor: 0.2,
                    end_factor: 1.0,
                    total_iters: 5,
                    last_epoch: -1,
                }),
                Box::new(CosineAnnealingLrConfig {
                    t_max: 10,
                    ..Default::default()
                }),
            ],
            milestones: vec![5],
            last_epoch: -1,
        };
        let a = sequence(warm.build(&[0.1]).unwrap().as_mut(), 20, None);
        let b = sequence(seq.build(&[0.1]).unwrap().as_mut(), 20, None);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-12, "{a:?}\n{b:?}");
        }
    }
}
