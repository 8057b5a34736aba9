//! `ReduceLROnPlateau`: multiplies the learning rate by `factor` when a monitored metric has
//! stopped improving for more than `patience` steps, then waits `cooldown` steps.
//!
//! A metric `a` improves on the best so far `b` when (mode, threshold_mode):
//! (min, rel) `a < b * (1 - threshold)`; (min, abs) `a < b - threshold`;
//! (max, rel) `a > b * (1 + threshold)`; (max, abs) `a > b + threshold`. On a reduction each
//! group's lr becomes `max(lr * factor, min_lr)`, unless that changes it by no more than `eps`.
//! Matches `torch.optim.lr_scheduler.ReduceLROnPlateau`.
//!
//! [`LrScheduler::step`] takes the metric; a step without one (`None`) is ignored.

use serde::{Deserialize, Serialize};

use crate::{LrScheduler, LrSchedulerConfig, PerGroup, SchedError, ScheduleCore, SchedulerState};

/// The `mode` of [`ReduceLrOnPlateauConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlateauMode {
    /// `"min"`: the metric should decrease (a loss).
    Min,
    /// `"max"`: the metric should increase (an accuracy).
    Max,
}

/// The `threshold_mode` of [`ReduceLrOnPlateauConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdMode {
    /// `"rel"`: improvement relative to the best value.
    Rel,
    /// `"abs"`: improvement by an absolute amount.
    Abs,
}

/// Config of `ReduceLROnPlateau` (`type = "ReduceLROnPlateau"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReduceLrOnPlateauConfig {
    /// `mode`: `"min"` or `"max"`. PyTorch default `"min"`.
    pub mode: PlateauMode,
    /// `factor`: the multiplier applied on a plateau, in [0, 1). PyTorch default 0.1.
    pub factor: f64,
    /// `patience`: the number of non-improving steps tolerated. PyTorch default 10.
    pub patience: i64,
    /// `threshold`: the minimum significant improvement. PyTorch default 1e-4.
    pub threshold: f64,
    /// `threshold_mode`: `"rel"` or `"abs"`. PyTorch default `"rel"`.
    pub threshold_mode: ThresholdMode,
    /// `cooldown`: steps to wait after a reduction before counting again. PyTorch default 0.
    pub cooldown: i64,
    /// `min_lr`: the lower bound on the lr, one value or one per group. PyTorch default 0.
    pub min_lr: PerGroup,
    /// `eps`: reductions smaller than this are skipped. PyTorch default 1e-8.
    pub eps: f64,
}

impl Default for ReduceLrOnPlateauConfig {
    fn default() -> Self {
        ReduceLrOnPlateauConfig {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: PerGroup::All(0.0),
            eps: 1e-8,
        }
    }
}

#[typetag::serde(name = "ReduceLROnPlateau")]
impl LrSchedulerConfig for ReduceLrOnPlateauConfig {
    fn validate(&self) -> Result<(), SchedError> {
        if !(0.0..1.0).contains(&self.factor) {
            return Err(SchedError::invalid(
                self.name(),
                "factor",
                format!("must be in [0, 1), got {}", self.factor),
            ));
        }
        for (field, v) in [("patience", self.patience), ("cooldown", self.cooldown)] {
            if v < 0 {
                return Err(SchedError::invalid(
                    self.name(),
                    field,
                    format!("must be an integer >= 0, got {v}"),
                ));
            }
        }
        for (field, v) in [("threshold", self.threshold), ("eps", self.eps)] {
            if !v.is_finite() || v < 0.0 {
                return Err(SchedError::invalid(
                    self.name(),
                    field,
                    format!("must be a finite number >= 0, got {v}"),
                ));
            }
        }
        self.min_lr
            .check(self.name(), "min_lr", "a finite number >= 0", |v| {
                v.is_finite() && v >= 0.0
            })
    }

    fn build(&self, base_lrs: &[f64]) -> Result<Box<dyn LrScheduler>, SchedError> {
        self.validate()?;
        crate::check_base_lrs(base_lrs)?;
        let mut s = ReduceLrOnPlateau {
            config: self.clone(),
            min_lrs: self.min_lr.resolve(base_lrs.len(), self.name(), "min_lr")?,
            core: ScheduleCore::new(self.name(), base_lrs),
            best: 0.0,
            num_bad_epochs: 0,
            cooldown_counter: 0,
        };
        s.restart();
        Ok(Box::new(s))
    }
}

/// The running schedule.
#[derive(Debug, Clone)]
struct ReduceLrOnPlateau {
    config: ReduceLrOnPlateauConfig,
    core: ScheduleCore,
    min_lrs: Vec<f64>,
    best: f64,
    num_bad_epochs: i64,
    cooldown_counter: i64,
}

impl ReduceLrOnPlateau {
    fn mode_worse(&self) -> f64 {
        match self.config.mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        }
    }

    fn is_better(&self, a: f64, best: f64) -> bool {
        let t = self.config.threshold;
        match (self.config.mode, self.config.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - t),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - t,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (t + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + t,
        }
    }

    fn reduce_lr(&mut self) {
        for (lr, min_lr) in self.core.lrs.iter_mut().zip(&self.min_lrs) {
            let old_lr = *lr;
            let new_lr = (old_lr * self.config.factor).max(*min_lr);
            if old_lr - new_lr > self.config.eps {
                *lr = new_lr;
            }
        }
    }
}

impl LrScheduler for ReduceLrOnPlateau {
    fn step(&mut self, metric: Option<f64>) {
        let Some(current) = metric else { return };
        self.core.last_epoch += 1;
        if self.is_better(current, self.best) {
            self.best = current;
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > self.config.patience {
            self.reduce_lr();
            self.cooldown_counter = self.config.cooldown;
            self.num_bad_epochs = 0;
        }
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
            .with_counter("num_bad_epochs", self.num_bad_epochs)
            .with_counter("cooldown_counter", self.cooldown_counter)
            .with_value("best", self.best)
    }

    fn load_state(&mut self, state: &SchedulerState) -> Result<(), SchedError> {
        let mut core = self.core.clone();
        core.load(state)?;
        self.num_bad_epochs = state.counter("num_bad_epochs")?;
        self.cooldown_counter = state.counter("cooldown_counter")?;
        self.best = state.value_or("best", self.mode_worse());
        self.core = core;
        Ok(())
    }

    fn restart(&mut self) {
        self.best = self.mode_worse();
        self.num_bad_epochs = 0;
        self.cooldown_counter = 0;
        self.core.last_epoch = 0;
    }

    fn step_to(&mut self, epoch: u64) {
        self.core.last_epoch = epoch as i64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn validation() {
        let e = ReduceLrOnPlateauConfig {
            factor: 1.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "ReduceLROnPlateau.factor: must be in [0, 1), got 1"
        );
        let e = ReduceLrOnPlateauConfig {
            patience: -1,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("ReduceLROnPlateau.patience"));
        let e = ReduceLrOnPlateauConfig {
            min_lr: PerGroup::Each(vec![0.0]),
            ..Default::default()
        }
        .build(&[0.1, 0.1])
        .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("ReduceLROnPlateau.min_lr: expected one value per parameter group (2)"));
        let e = serde_json::from_str::<Box<dyn LrSchedulerConfig>>(
            r#"{"type":"ReduceLROnPlateau","mode":"minimum"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("expected `min` or `max`"), "{e}");
    }

    #[test]
    fn round_trip_and_resume() {
        let c = ReduceLrOnPlateauConfig {
            patience: 1,
            cooldown: 1,
            min_lr: PerGroup::Each(vec![0.01, 0.001]),
            factor: 0.5,
            ..Default::default()
        };
        assert_round_trip(&c);
        let metrics = [1.0, 0.9, 0.95, 0.97, 0.99, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
        assert_resume(&c, &[0.1, 0.1], 20, Some(&metrics));
        let mut s = c.build(&[0.1, 0.1]).unwrap();
        let seq = sequence(s.as_mut(), 5, Some(&metrics));
        assert_eq!(seq, [0.1, 0.1, 0.1, 0.1, 0.05, 0.05]);
        // A step without a metric changes nothing.
        let before = s.state();
        s.step(None);
        assert_eq!(s.state(), before);
    }
}
