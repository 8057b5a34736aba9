//! `SequentialLR`: runs a list of schedules one after another, switching at `milestones`.
//!
//! Until `milestones[0]` the first schedule is stepped, until `milestones[1]` the second, and
//! so on; at each milestone the next schedule jumps to its step 0 (PyTorch calls
//! `scheduler.step(0)`, which uses the closed form where there is one). All schedules share
//! one learning rate, and the sub-schedules' constructors act on it in order before
//! `SequentialLR` resets it to the base lr and re-runs the first schedule's initial step, as in
//! PyTorch. Matches `torch.optim.lr_scheduler.SequentialLR`.

use serde::{Deserialize, Serialize};

use crate::{LrScheduler, LrSchedulerConfig, SchedError, ScheduleCore, SchedulerState};

/// Config of `SequentialLR` (`type = "SequentialLR"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SequentialLrConfig {
    /// `schedulers`: the nested schedule configs, in order (an array of `{type = ...}`
    /// objects). Required by PyTorch.
    pub schedulers: Vec<Box<dyn LrSchedulerConfig>>,
    /// `milestones`: the steps at which the next schedule takes over; strictly increasing, one
    /// fewer than `schedulers`. Required by PyTorch.
    pub milestones: Vec<i64>,
    /// `last_epoch`: must be -1 (PyTorch default); resume with `load_state`.
    pub last_epoch: i64,
}

impl Default for SequentialLrConfig {
    fn default() -> Self {
        SequentialLrConfig {
            schedulers: Vec::new(),
            milestones: Vec::new(),
            last_epoch: -1,
        }
    }
}

/// Builds `configs` in order on a shared lr, as PyTorch constructs sub-schedulers on one
/// optimizer before the outer scheduler. Returns the schedules, the lr and the momentum after
/// the last constructor.
#[allow(clippy::type_complexity)]
pub(crate) fn build_children(
    schedule: &'static str,
    configs: &[Box<dyn LrSchedulerConfig>],
    base_lrs: &[f64],
) -> Result<(Vec<Box<dyn LrScheduler>>, Vec<f64>, Option<Vec<f64>>), SchedError> {
    let mut lrs = base_lrs.to_vec();
    let mut momentum = None;
    let mut children = Vec::with_capacity(configs.len());
    for (i, config) in configs.iter().enumerate() {
        let mut child = config.build(base_lrs).map_err(|e| nested(schedule, i, e))?;
        child.set_lrs(&lrs);
        child.restart();
        lrs = child.lrs();
        if let Some(m) = child.momentum() {
            momentum = Some(m);
        }
        children.push(child);
    }
    Ok((children, lrs, momentum))
}

/// Prefixes a nested schedule's error with its position.
pub(crate) fn nested(schedule: &'static str, index: usize, e: SchedError) -> SchedError {
    match e {
        SchedError::InvalidField { .. } => {
            SchedError::invalid(schedule, "schedulers", format!("[{index}]: {e}"))
        }
        other => other,
    }
}

#[typetag::serde(name = "SequentialLR")]
impl LrSchedulerConfig for SequentialLrConfig {
    fn validate(&self) -> Result<(), SchedError> {
        if self.schedulers.is_empty() {
            return Err(SchedError::invalid(
                self.name(),
                "schedulers",
                "must hold at least one schedule, got []",
            ));
        }
        for (i, s) in self.schedulers.iter().enumerate() {
            s.validate().map_err(|e| nested(self.name(), i, e))?;
        }
        if self.milestones.len() + 1 != self.schedulers.len() {
            return Err(SchedError::invalid(
                self.name(),
                "milestones",
                format!(
                    "expected {} milestones (one fewer than schedulers), got {}: {:?}",
                    self.schedulers.len() - 1,
                    self.milestones.len(),
                    self.milestones
                ),
            ));
        }
        if self.milestones.first().is_some_and(|&m| m < 1)
            || self.milestones.windows(2).any(|w| w[1] <= w[0])
        {
            return Err(SchedError::invalid(
                self.name(),
                "milestones",
                format!(
                    "must be positive and strictly increasing, got {:?}",
                    self.milestones
                ),
            ));
        }
        crate::check_last_epoch(self.name(), self.last_epoch)
    }

    fn build(&self, base_lrs: &[f64]) -> Result<Box<dyn LrScheduler>, SchedError> {
        self.validate()?;
        crate::check_base_lrs(base_lrs)?;
        let (children, _, momentum) = build_children(self.name(), &self.schedulers, base_lrs)?;
        let mut core = ScheduleCore::new(self.name(), base_lrs);
        core.momentum = momentum;
        let mut s = SequentialLr {
            children,
            milestones: self.milestones.clone(),
            core,
        };
        s.restart();
        Ok(Box::new(s))
    }

    fn cycles_momentum(&self) -> bool {
        self.schedulers.iter().any(|s| s.cycles_momentum())
    }
}

/// The running schedule.
#[derive(Debug, Clone)]
struct SequentialLr {
    children: Vec<Box<dyn LrScheduler>>,
    milestones: Vec<i64>,
    core: ScheduleCore,
}

impl SequentialLr {
    fn take_from(&mut self, idx: usize) {
        self.core.lrs = self.children[idx].lrs();
        if let Some(m) = self.children[idx].momentum() {
            self.core.momentum = Some(m);
        }
    }
}

impl LrScheduler for SequentialLr {
    fn step(&mut self, metric: Option<f64>) {
        self.core.last_epoch += 1;
        let epoch = self.core.last_epoch;
        let idx = self.milestones.partition_point(|&m| m <= epoch);
        let child = &mut self.children[idx];
        child.set_lrs(&self.core.lrs);
        if idx > 0 && self.milestones[idx - 1] == epoch {
            child.step_to(0);
        } else {
            child.step(metric);
        }
        self.take_from(idx);
    }

    fn core(&self) -> &ScheduleCore {
        &self.core
    }

    fn core_mut(&mut self) -> &mut ScheduleCore {
        &mut self.core
    }

    fn state(&self) -> SchedulerState {
        self.core.state_with(&self.children)
    }

    fn load_state(&mut self, state: &SchedulerState) -> Result<(), SchedError> {
        self.core.load_with(state, &mut self.children)
    }

    fn restart(&mut self) {
        // PyTorch: reset the lr to initial_lr, undo the sub-schedulers' steps, and perform
        // the first sub-scheduler's initial step.
        self.core.lrs.clone_from(&self.core.base_lrs);
        self.core.last_epoch = 0;
        self.children[0].set_lrs(&self.core.lrs);
        self.children[0].restart();
        self.take_from(0);
    }

    fn step_to(&mut self, epoch: u64) {
        self.restart();
        for _ in 0..epoch {
            self.step(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;
    use crate::{
        ConstantLrConfig, CosineAnnealingLrConfig, ExponentialLrConfig, LinearLrConfig,
        OneCycleLrConfig,
    };

    fn example() -> SequentialLrConfig {
        SequentialLrConfig {
            schedulers: vec![
                Box::new(LinearLrConfig {
                    start_factor: 0.1,
                    total_iters: 3,
                    ..Default::default()
                }),
                Box::new(CosineAnnealingLrConfig {
                    t_max: 5,
                    ..Default::default()
                }),
                Box::new(OneCycleLrConfig {
                    total_steps: Some(6),
                    ..Default::default()
                }),
            ],
            milestones: vec![3, 8],
            last_epoch: -1,
        }
    }

    #[test]
    fn validation() {
        let mut c = example();
        c.milestones = vec![3];
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "SequentialLR.milestones: expected 2 milestones (one fewer than schedulers), got 1: [3]"
        );
        c.milestones = vec![8, 3];
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("strictly increasing"));
        let c = SequentialLrConfig {
            schedulers: vec![Box::new(ExponentialLrConfig {
                gamma: -1.0,
                ..Default::default()
            })],
            ..Default::default()
        };
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "SequentialLR.schedulers: [0]: ExponentialLR.gamma: must be a finite number >= 0, got -1"
        );
        assert!(SequentialLrConfig::default().validate().is_err());
    }

    #[test]
    fn round_trip_and_resume() {
        let c = example();
        assert_round_trip(&c);
        assert_resume(&c, &[0.1], 16, None);
        assert!(c.build(&[0.1]).unwrap().momentum().is_some());
    }

    #[test]
    fn constructor_effects() {
        // ConstantLR's constructor halves the lr; SequentialLR resets it and re-applies.
        let c = SequentialLrConfig {
            schedulers: vec![
                Box::new(ConstantLrConfig {
                    factor: 0.5,
                    total_iters: 2,
                    ..Default::default()
                }),
                Box::new(ExponentialLrConfig {
                    gamma: 0.5,
                    ..Default::default()
                }),
            ],
            milestones: vec![3],
            last_epoch: -1,
        };
        let mut s = c.build(&[1.0]).unwrap();
        assert_close(
            &sequence(s.as_mut(), 5, None),
            &[0.5, 0.5, 1.0, 1.0, 0.5, 0.25],
        );
    }
}
