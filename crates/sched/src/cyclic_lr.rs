//! `CyclicLR`: cycles the learning rate between `base_lr` and `max_lr` (Smith 2017, *Cyclical
//! Learning Rates for Training Neural Networks*), and optionally the momentum inversely between
//! `max_momentum` and `base_momentum`.
//!
//! With `cycle = floor(1 + t / (up + down))` and `x = 1 + t / (up + down) - cycle`, the
//! triangle height is `h = x / r` while rising (`x <= r = up / (up + down)`) and
//! `(x - 1) / (r - 1)` while falling, and
//! `lr_t = base_lr + (max_lr - base_lr) * h * scale_fn(cycle or t)`,
//! `momentum_t = max_momentum - (max_momentum - base_momentum) * h * scale_fn(cycle or t)`.
//!
//! Matches `torch.optim.lr_scheduler.CyclicLR`. The learning rate comes from `base_lr`, not
//! from the optimizer's lr (PyTorch overwrites the group lr with `base_lr`). PyTorch's
//! `scale_fn` is a Python callable; here it names one of the built-in policies (see
//! [`ScaleFn`]), used together with the given `scale_mode`.

use serde::{Deserialize, Serialize};

use crate::{LrScheduler, LrSchedulerConfig, PerGroup, SchedError, ScheduleCore};

/// The `mode` of [`CyclicLrConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CyclicMode {
    /// `"triangular"`: a plain triangle, no amplitude scaling.
    Triangular,
    /// `"triangular2"`: the amplitude halves every cycle.
    Triangular2,
    /// `"exp_range"`: the amplitude is scaled by `gamma^t` at step `t`.
    ExpRange,
}

/// The `scale_mode` of [`CyclicLrConfig`]: what `scale_fn` is evaluated at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleMode {
    /// `"cycle"`: the cycle number (1, 2, ...).
    Cycle,
    /// `"iterations"`: the step count.
    Iterations,
}

/// A named amplitude-scaling function for [`CyclicLrConfig`]'s `scale_fn` (PyTorch takes a
/// callable; Tuna configs name one). When set, `mode` is ignored and `scale_mode` is used as
/// given, exactly as PyTorch does with a custom `scale_fn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleFn {
    /// `"triangular"`: `1`.
    Triangular,
    /// `"triangular2"`: `1 / 2^(x - 1)`.
    Triangular2,
    /// `"exp_range"`: `gamma^x`.
    ExpRange,
}

impl ScaleFn {
    fn eval(self, gamma: f64, x: f64) -> f64 {
        match self {
            ScaleFn::Triangular => 1.0,
            ScaleFn::Triangular2 => 1.0 / 2f64.powf(x - 1.0),
            ScaleFn::ExpRange => gamma.powf(x),
        }
    }
}

/// Config of `CyclicLR` (`type = "CyclicLR"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CyclicLrConfig {
    /// `base_lr`: the lower lr bound, one value or one per group. Required by PyTorch; Tuna
    /// default 0.001.
    pub base_lr: PerGroup,
    /// `max_lr`: the upper lr bound, one value or one per group. Required by PyTorch; Tuna
    /// default 0.006.
    pub max_lr: PerGroup,
    /// `step_size_up`: steps in the rising half of a cycle. PyTorch default 2000.
    pub step_size_up: i64,
    /// `step_size_down`: steps in the falling half; `null` means `step_size_up`. PyTorch
    /// default `None`.
    pub step_size_down: Option<i64>,
    /// `mode`: `"triangular"`, `"triangular2"` or `"exp_range"`. PyTorch default
    /// `"triangular"`.
    pub mode: CyclicMode,
    /// `gamma`: the base of `exp_range` scaling. PyTorch default 1.0.
    pub gamma: f64,
    /// `scale_fn`: a named scaling policy overriding `mode`, or `null`. PyTorch default `None`.
    pub scale_fn: Option<ScaleFn>,
    /// `scale_mode`: `"cycle"` or `"iterations"`, used only with `scale_fn`. PyTorch default
    /// `"cycle"`.
    pub scale_mode: ScaleMode,
    /// `cycle_momentum`: also cycle momentum (or Adam's beta1) inversely. PyTorch default true.
    pub cycle_momentum: bool,
    /// `base_momentum`: the lower momentum bound. PyTorch default 0.8.
    pub base_momentum: PerGroup,
    /// `max_momentum`: the upper momentum bound (used at the cycle's start). PyTorch default 0.9.
    pub max_momentum: PerGroup,
    /// `last_epoch`: must be -1 (PyTorch default); resume with `load_state`.
    pub last_epoch: i64,
}

impl Default for CyclicLrConfig {
    fn default() -> Self {
        CyclicLrConfig {
            base_lr: PerGroup::All(0.001),
            max_lr: PerGroup::All(0.006),
            step_size_up: 2000,
            step_size_down: None,
            mode: CyclicMode::Triangular,
            gamma: 1.0,
            scale_fn: None,
            scale_mode: ScaleMode::Cycle,
            cycle_momentum: true,
            base_momentum: PerGroup::All(0.8),
            max_momentum: PerGroup::All(0.9),
            last_epoch: -1,
        }
    }
}

#[typetag::serde(name = "CyclicLR")]
impl LrSchedulerConfig for CyclicLrConfig {
    fn validate(&self) -> Result<(), SchedError> {
        let finite_nonneg = |v: f64| v.is_finite() && v >= 0.0;
        self.base_lr.check(
            self.name(),
            "base_lr",
            "a finite number >= 0",
            finite_nonneg,
        )?;
        self.max_lr
            .check(self.name(), "max_lr", "a finite number >= 0", finite_nonneg)?;
        if self.step_size_up < 1 {
            return Err(SchedError::invalid(
                self.name(),
                "step_size_up",
                format!("must be a positive integer, got {}", self.step_size_up),
            ));
        }
        if let Some(down) = self.step_size_down {
            if down < 1 {
                return Err(SchedError::invalid(
                    self.name(),
                    "step_size_down",
                    format!("must be a positive integer or null, got {down}"),
                ));
            }
        }
        if !self.gamma.is_finite() || self.gamma <= 0.0 {
            return Err(SchedError::invalid(
                self.name(),
                "gamma",
                format!("must be a finite number > 0, got {}", self.gamma),
            ));
        }
        PerGroup::check_momentum_bounds(self.name(), &self.base_momentum, &self.max_momentum)?;
        crate::check_last_epoch(self.name(), self.last_epoch)
    }

    fn build(&self, base_lrs: &[f64]) -> Result<Box<dyn LrScheduler>, SchedError> {
        self.validate()?;
        crate::check_base_lrs(base_lrs)?;
        let n = base_lrs.len();
        let (scale_fn, scale_mode) = match (self.scale_fn, self.mode) {
            (Some(f), _) => (f, self.scale_mode),
            (None, CyclicMode::Triangular) => (ScaleFn::Triangular, ScaleMode::Cycle),
            (None, CyclicMode::Triangular2) => (ScaleFn::Triangular2, ScaleMode::Cycle),
            (None, CyclicMode::ExpRange) => (ScaleFn::ExpRange, ScaleMode::Iterations),
        };
        let up = self.step_size_up as f64;
        let down = self.step_size_down.map_or(up, |d| d as f64);
        let total_size = up + down;
        let (base_momentums, max_momentums) = if self.cycle_momentum {
            (
                self.base_momentum
                    .resolve(n, self.name(), "base_momentum")?,
                self.max_momentum.resolve(n, self.name(), "max_momentum")?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        let base = self.base_lr.resolve(n, self.name(), "base_lr")?;
        let mut core = ScheduleCore::new(self.name(), &base);
        core.momentum = self.cycle_momentum.then(|| max_momentums.clone());
        let mut s = CyclicLr {
            core,
            max_lrs: self.max_lr.resolve(n, self.name(), "max_lr")?,
            total_size,
            step_ratio: up / total_size,
            gamma: self.gamma,
            scale_fn,
            scale_mode,
            base_momentums,
            max_momentums,
        };
        s.restart();
        Ok(Box::new(s))
    }

    fn cycles_momentum(&self) -> bool {
        self.cycle_momentum
    }
}

/// The running schedule.
#[derive(Debug, Clone)]
struct CyclicLr {
    core: ScheduleCore,
    max_lrs: Vec<f64>,
    total_size: f64,
    step_ratio: f64,
    gamma: f64,
    scale_fn: ScaleFn,
    scale_mode: ScaleMode,
    base_momentums: Vec<f64>,
    max_momentums: Vec<f64>,
}

impl CyclicLr {
    /// PyTorch `get_lr()` at `last_epoch`.
    fn update(&mut self) {
        let core = &mut self.core;
        let t = core.last_epoch as f64;
        let cycle = (1.0 + t / self.total_size).floor();
        let x = 1.0 + t / self.total_size - cycle;
        let scale_factor = if x <= self.step_ratio {
            x / self.step_ratio
        } else {
            (x - 1.0) / (self.step_ratio - 1.0)
        };
        let at = match self.scale_mode {
            ScaleMode::Cycle => cycle,
            ScaleMode::Iterations => t,
        };
        let scale = self.scale_fn.eval(self.gamma, at);
        for ((lr, base), max) in core.lrs.iter_mut().zip(&core.base_lrs).zip(&self.max_lrs) {
            let base_height = (max - base) * scale_factor;
            *lr = base + base_height * scale;
        }
        if let Some(m) = &mut core.momentum {
            for ((m, base), max) in m
                .iter_mut()
                .zip(&self.base_momentums)
                .zip(&self.max_momentums)
            {
                let base_height = (max - base) * scale_factor;
                *m = max - base_height * scale;
            }
        }
    }
}

impl LrScheduler for CyclicLr {
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
        let e = CyclicLrConfig {
            step_size_up: 0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "CyclicLR.step_size_up: must be a positive integer, got 0"
        );
        let e = CyclicLrConfig {
            max_lr: PerGroup::All(-1.0),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "CyclicLR.max_lr: must be a finite number >= 0, got -1"
        );
        let e = CyclicLrConfig {
            max_lr: PerGroup::Each(vec![0.1, 0.2]),
            ..Default::default()
        }
        .build(&[0.1])
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("CyclicLR.max_lr: expected one value per parameter group (1)"),
            "{e}"
        );
        let e = serde_json::from_str::<Box<dyn LrSchedulerConfig>>(
            r#"{"type":"CyclicLR","mode":"square"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown variant `square`"), "{e}");
    }

    #[test]
    fn round_trip_and_resume() {
        let c = CyclicLrConfig {
            step_size_up: 3,
            step_size_down: Some(5),
            mode: CyclicMode::ExpRange,
            gamma: 0.9,
            max_lr: PerGroup::Each(vec![0.01, 0.02]),
            ..Default::default()
        };
        assert_round_trip(&c);
        assert_resume(&c, &[0.1, 0.1], 20, None);
        let c = CyclicLrConfig {
            step_size_up: 2,
            scale_fn: Some(ScaleFn::Triangular2),
            scale_mode: ScaleMode::Iterations,
            cycle_momentum: false,
            ..Default::default()
        };
        assert_round_trip(&c);
        assert_resume(&c, &[0.1], 10, None);
        assert!(c.build(&[0.1]).unwrap().momentum().is_none());
    }

    #[test]
    fn triangle() {
        let c = CyclicLrConfig {
            base_lr: 1.0.into(),
            max_lr: 3.0.into(),
            step_size_up: 2,
            ..Default::default()
        };
        let mut s = c.build(&[0.5]).unwrap();
        assert_close(
            &sequence(s.as_mut(), 5, None),
            &[1.0, 2.0, 3.0, 2.0, 1.0, 2.0],
        );
        assert_close(&s.momentum().unwrap(), &[0.85]);
    }
}
