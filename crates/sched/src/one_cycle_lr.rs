//! `OneCycleLR`: the 1cycle policy (Smith & Topin 2018, *Super-Convergence*): the learning
//! rate rises from `max_lr / div_factor` to `max_lr` over the first `pct_start` of the run,
//! then anneals to `max_lr / (div_factor * final_div_factor)`; momentum (or Adam's beta1)
//! moves inversely between `max_momentum` and `base_momentum`.
//!
//! Two phases (`three_phase = false`): `initial -> max` over steps `[0, pct_start*T - 1]`,
//! `max -> min` until `T - 1`. Three phases: `initial -> max`, `max -> initial` until
//! `2*pct_start*T - 2`, then `initial -> min`. Each phase anneals with
//! `cos`: `end + (start - end) / 2 * (1 + cos(pi * pct))`, or `linear`:
//! `start + (end - start) * pct`. Matches `torch.optim.lr_scheduler.OneCycleLR`.
//!
//! Deliberate difference: PyTorch raises when stepped more than `total_steps` times (and at
//! exactly `total_steps` extrapolates past the end of the last phase, which with linear
//! annealing gives a negative lr); Tuna holds the final lr and momentum from step
//! `total_steps - 1` on.

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

use crate::{LrScheduler, LrSchedulerConfig, PerGroup, SchedError, ScheduleCore};

/// The `anneal_strategy` of [`OneCycleLrConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnealStrategy {
    /// `"cos"`: cosine annealing.
    Cos,
    /// `"linear"`: linear annealing.
    Linear,
}

impl AnnealStrategy {
    fn anneal(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            AnnealStrategy::Cos => {
                let cos_out = (PI * pct).cos() + 1.0;
                end + (start - end) / 2.0 * cos_out
            }
            AnnealStrategy::Linear => (end - start) * pct + start,
        }
    }
}

/// Config of `OneCycleLR` (`type = "OneCycleLR"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OneCycleLrConfig {
    /// `max_lr`: the peak lr, one value or one per group. Required by PyTorch; Tuna default 0.1.
    pub max_lr: PerGroup,
    /// `total_steps`: the length of the cycle; if `null`, `epochs * steps_per_epoch`. PyTorch
    /// default `None`. When both are missing, the trainer (or `tuna schedule --steps`) fills it
    /// in through [`LrSchedulerConfig::fill_total_steps`].
    pub total_steps: Option<i64>,
    /// `epochs`: with `steps_per_epoch`, gives `total_steps`. PyTorch default `None`.
    pub epochs: Option<i64>,
    /// `steps_per_epoch`: with `epochs`, gives `total_steps`. PyTorch default `None`.
    pub steps_per_epoch: Option<i64>,
    /// `pct_start`: the fraction of the cycle spent increasing the lr. PyTorch default 0.3.
    pub pct_start: f64,
    /// `anneal_strategy`: `"cos"` or `"linear"`. PyTorch default `"cos"`.
    pub anneal_strategy: AnnealStrategy,
    /// `cycle_momentum`: also cycle momentum (or Adam's beta1) inversely. PyTorch default true.
    pub cycle_momentum: bool,
    /// `base_momentum`: the momentum at the lr peak. PyTorch default 0.85.
    pub base_momentum: PerGroup,
    /// `max_momentum`: the momentum at the start and end. PyTorch default 0.95.
    pub max_momentum: PerGroup,
    /// `div_factor`: `initial_lr = max_lr / div_factor`. PyTorch default 25.0.
    pub div_factor: f64,
    /// `final_div_factor`: `min_lr = initial_lr / final_div_factor`. PyTorch default 1e4.
    pub final_div_factor: f64,
    /// `three_phase`: anneal back to `initial_lr` before the final decay. PyTorch default false.
    pub three_phase: bool,
    /// `last_epoch`: must be -1 (PyTorch default); resume with `load_state`.
    pub last_epoch: i64,
}

impl Default for OneCycleLrConfig {
    fn default() -> Self {
        OneCycleLrConfig {
            max_lr: PerGroup::All(0.1),
            total_steps: None,
            epochs: None,
            steps_per_epoch: None,
            pct_start: 0.3,
            anneal_strategy: AnnealStrategy::Cos,
            cycle_momentum: true,
            base_momentum: PerGroup::All(0.85),
            max_momentum: PerGroup::All(0.95),
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false,
            last_epoch: -1,
        }
    }
}

impl OneCycleLrConfig {
    /// The cycle length: `total_steps`, or `epochs * steps_per_epoch`.
    ///
    /// # Errors
    /// [`SchedError::InvalidField`] if neither is set or a value is not positive.
    pub fn resolved_total_steps(&self) -> Result<i64, SchedError> {
        let positive = |field: &'static str, v: i64| {
            if v < 1 {
                Err(SchedError::invalid(
                    self.name(),
                    field,
                    format!("must be a positive integer, got {v}"),
                ))
            } else {
                Ok(v)
            }
        };
        match (self.total_steps, self.epochs, self.steps_per_epoch) {
            (Some(t), _, _) => positive("total_steps", t),
            (None, Some(e), Some(s)) => {
                Ok(positive("epochs", e)? * positive("steps_per_epoch", s)?)
            }
            _ => Err(SchedError::invalid(
                self.name(),
                "total_steps",
                "set total_steps, or both epochs and steps_per_epoch; got neither",
            )),
        }
    }
}

#[typetag::serde(name = "OneCycleLR")]
impl LrSchedulerConfig for OneCycleLrConfig {
    fn validate(&self) -> Result<(), SchedError> {
        self.max_lr
            .check(self.name(), "max_lr", "a finite number >= 0", |v| {
                v.is_finite() && v >= 0.0
            })?;
        self.resolved_total_steps()?;
        if !(0.0..=1.0).contains(&self.pct_start) {
            return Err(SchedError::invalid(
                self.name(),
                "pct_start",
                format!("must be between 0 and 1, got {}", self.pct_start),
            ));
        }
        PerGroup::check_momentum_bounds(self.name(), &self.base_momentum, &self.max_momentum)?;
        for (field, v) in [
            ("div_factor", self.div_factor),
            ("final_div_factor", self.final_div_factor),
        ] {
            if !v.is_finite() || v <= 0.0 {
                return Err(SchedError::invalid(
                    self.name(),
                    field,
                    format!("must be a finite number > 0, got {v}"),
                ));
            }
        }
        crate::check_last_epoch(self.name(), self.last_epoch)
    }

    fn build(&self, base_lrs: &[f64]) -> Result<Box<dyn LrScheduler>, SchedError> {
        self.validate()?;
        crate::check_base_lrs(base_lrs)?;
        let n = base_lrs.len();
        let total_steps = self.resolved_total_steps()?;
        let total = total_steps as f64;
        let max_lrs = self.max_lr.resolve(n, self.name(), "max_lr")?;
        let groups = max_lrs
            .iter()
            .map(|&max_lr| {
                let initial_lr = max_lr / self.div_factor;
                GroupLevels {
                    initial_lr,
                    max_lr,
                    min_lr: initial_lr / self.final_div_factor,
                }
            })
            .collect::<Vec<_>>();
        use Level::*;
        let phases = if self.three_phase {
            vec![
                Phase {
                    end_step: self.pct_start * total - 1.0,
                    lr: (Initial, Max),
                    momentum: (MaxM, BaseM),
                },
                Phase {
                    end_step: 2.0 * self.pct_start * total - 2.0,
                    lr: (Max, Initial),
                    momentum: (BaseM, MaxM),
                },
                Phase {
                    end_step: total - 1.0,
                    lr: (Initial, Min),
                    momentum: (MaxM, MaxM),
                },
            ]
        } else {
            vec![
                Phase {
                    end_step: self.pct_start * total - 1.0,
                    lr: (Initial, Max),
                    momentum: (MaxM, BaseM),
                },
                Phase {
                    end_step: total - 1.0,
                    lr: (Max, Min),
                    momentum: (BaseM, MaxM),
                },
            ]
        };
        let momentums = if self.cycle_momentum {
            Some((
                self.base_momentum
                    .resolve(n, self.name(), "base_momentum")?,
                self.max_momentum.resolve(n, self.name(), "max_momentum")?,
            ))
        } else {
            None
        };
        let initial: Vec<f64> = groups.iter().map(|g| g.initial_lr).collect();
        let mut core = ScheduleCore::new(self.name(), &initial);
        core.momentum = momentums.as_ref().map(|(_, max)| max.clone());
        let mut s = OneCycleLr {
            core,
            groups,
            momentums,
            phases,
            strategy: self.anneal_strategy,
            total_steps,
        };
        s.restart();
        Ok(Box::new(s))
    }

    fn cycles_momentum(&self) -> bool {
        self.cycle_momentum
    }

    fn fill_total_steps(&mut self, total_steps: u64) {
        if self.total_steps.is_none() && (self.epochs.is_none() || self.steps_per_epoch.is_none()) {
            self.total_steps = Some(total_steps as i64);
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Level {
    Initial,
    Max,
    Min,
    BaseM,
    MaxM,
}

#[derive(Debug, Clone, Copy)]
struct GroupLevels {
    initial_lr: f64,
    max_lr: f64,
    min_lr: f64,
}

#[derive(Debug, Clone)]
struct Phase {
    end_step: f64,
    lr: (Level, Level),
    momentum: (Level, Level),
}

/// The running schedule.
#[derive(Debug, Clone)]
struct OneCycleLr {
    core: ScheduleCore,
    groups: Vec<GroupLevels>,
    /// `(base_momentums, max_momentums)` when cycling momentum.
    momentums: Option<(Vec<f64>, Vec<f64>)>,
    phases: Vec<Phase>,
    strategy: AnnealStrategy,
    total_steps: i64,
}

impl OneCycleLr {
    fn update(&mut self) {
        // Hold the end of the cycle instead of raising (see the module docs).
        let step_num = self.core.last_epoch.min(self.total_steps - 1) as f64;
        let mut start_step = 0.0;
        let mut found = (0, 0.0);
        for (i, phase) in self.phases.iter().enumerate() {
            if step_num <= phase.end_step || i == self.phases.len() - 1 {
                found = (i, (step_num - start_step) / (phase.end_step - start_step));
                break;
            }
            start_step = phase.end_step;
        }
        let (i, pct) = found;
        let phase = &self.phases[i];
        let core = &mut self.core;
        for (g, (lr, levels)) in core.lrs.iter_mut().zip(&self.groups).enumerate() {
            let level = |l: Level| match l {
                Level::Initial => levels.initial_lr,
                Level::Max => levels.max_lr,
                Level::Min => levels.min_lr,
                Level::BaseM => self.momentums.as_ref().map_or(0.0, |m| m.0[g]),
                Level::MaxM => self.momentums.as_ref().map_or(0.0, |m| m.1[g]),
            };
            *lr = self
                .strategy
                .anneal(level(phase.lr.0), level(phase.lr.1), pct);
            if let Some(m) = &mut core.momentum {
                m[g] = self
                    .strategy
                    .anneal(level(phase.momentum.0), level(phase.momentum.1), pct);
            }
        }
    }
}

impl LrScheduler for OneCycleLr {
    fn step(&mut self, _metric: Option<f64>) {
        self.core.last_epoch += 1;
        self.update();
    }

    fn core(&self) -> &ScheduleCore {
        &self.core
    }

    fn core_mut(&mut self) -> &mut ScheduleCore {
        &mut self.core
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn validation() {
        let c = OneCycleLrConfig {
            total_steps: None,
            ..Default::default()
        };
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "OneCycleLR.total_steps: set total_steps, or both epochs and steps_per_epoch; got neither"
        );
        let c = OneCycleLrConfig {
            total_steps: None,
            epochs: Some(0),
            steps_per_epoch: Some(3),
            ..Default::default()
        };
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "OneCycleLR.epochs: must be a positive integer, got 0"
        );
        let c = OneCycleLrConfig {
            pct_start: 1.5,
            total_steps: Some(10),
            ..Default::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("OneCycleLR.pct_start"));
        let c = OneCycleLrConfig {
            div_factor: 0.0,
            total_steps: Some(10),
            ..Default::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("OneCycleLR.div_factor"));
        let e = serde_json::from_str::<Box<dyn LrSchedulerConfig>>(
            r#"{"type":"OneCycleLR","anneal_strategy":"exp"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("expected `cos` or `linear`"), "{e}");
    }

    #[test]
    fn round_trip_and_resume() {
        let c = OneCycleLrConfig {
            total_steps: Some(20),
            three_phase: true,
            ..Default::default()
        };
        let mut filled = OneCycleLrConfig::default();
        filled.fill_total_steps(7);
        assert_eq!(filled.total_steps, Some(7));
        assert_round_trip(&c);
        assert_resume(&c, &[0.1], 25, None);
        let c = OneCycleLrConfig {
            total_steps: None,
            epochs: Some(3),
            steps_per_epoch: Some(4),
            anneal_strategy: AnnealStrategy::Linear,
            cycle_momentum: false,
            max_lr: PerGroup::Each(vec![0.1, 0.2]),
            ..Default::default()
        };
        assert_round_trip(&c);
        assert_resume(&c, &[0.1, 0.1], 14, None);
    }

    #[test]
    fn holds_the_final_lr_past_the_end() {
        let c = OneCycleLrConfig {
            total_steps: Some(10),
            anneal_strategy: AnnealStrategy::Linear,
            ..Default::default()
        };
        let mut s = c.build(&[0.1]).unwrap();
        let seq = sequence(s.as_mut(), 15, None);
        let min_lr = 0.1 / 25.0 / 1e4;
        for lr in &seq[9..] {
            assert!((lr - min_lr).abs() < 1e-15, "{lr}");
        }
        assert!(seq.iter().all(|&lr| lr > 0.0));
    }
}
