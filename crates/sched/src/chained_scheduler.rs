//! `ChainedScheduler`: steps several schedules together on one shared learning rate, so their
//! (multiplicative, recursive) effects compose: e.g. a `ConstantLR` warmup factor times an
//! `ExponentialLR` decay. Each sub-schedule's constructor acts on the lr in order, as in
//! PyTorch. Matches `torch.optim.lr_scheduler.ChainedScheduler`.

use serde::{Deserialize, Serialize};

use crate::sequential_lr::{build_children, nested};
use crate::{LrScheduler, LrSchedulerConfig, SchedError, ScheduleCore, SchedulerState};

/// Config of `ChainedScheduler` (`type = "ChainedScheduler"`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainedSchedulerConfig {
    /// `schedulers`: the nested schedule configs, stepped in this order each step (an array of
    /// `{type = ...}` objects). Required by PyTorch.
    pub schedulers: Vec<Box<dyn LrSchedulerConfig>>,
}

#[typetag::serde(name = "ChainedScheduler")]
impl LrSchedulerConfig for ChainedSchedulerConfig {
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
        Ok(())
    }

    fn build(&self, base_lrs: &[f64]) -> Result<Box<dyn LrScheduler>, SchedError> {
        self.validate()?;
        crate::check_base_lrs(base_lrs)?;
        let (children, lrs, momentum) = build_children(self.name(), &self.schedulers, base_lrs)?;
        let mut core = ScheduleCore::new(self.name(), base_lrs);
        core.lrs = lrs;
        core.momentum = momentum;
        core.last_epoch = 0;
        Ok(Box::new(ChainedScheduler { children, core }))
    }

    fn cycles_momentum(&self) -> bool {
        self.schedulers.iter().any(|s| s.cycles_momentum())
    }
}

/// The running schedule.
#[derive(Debug, Clone)]
struct ChainedScheduler {
    children: Vec<Box<dyn LrScheduler>>,
    core: ScheduleCore,
}

impl ChainedScheduler {
    fn each(&mut self, mut f: impl FnMut(&mut dyn LrScheduler)) {
        for child in &mut self.children {
            child.set_lrs(&self.core.lrs);
            f(child.as_mut());
            self.core.lrs = child.lrs();
            if let Some(m) = child.momentum() {
                self.core.momentum = Some(m);
            }
        }
    }
}

impl LrScheduler for ChainedScheduler {
    fn step(&mut self, metric: Option<f64>) {
        self.core.last_epoch += 1;
        self.each(|c| c.step(metric));
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
        self.core.last_epoch = 0;
        self.each(|c| c.restart());
    }

    fn step_to(&mut self, epoch: u64) {
        self.core.last_epoch = epoch as i64;
        self.each(|c| c.step_to(epoch));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;
    use crate::{ConstantLrConfig, CyclicLrConfig, ExponentialLrConfig, ReduceLrOnPlateauConfig};

    #[test]
    fn validation() {
        assert_eq!(
            ChainedSchedulerConfig::default()
                .validate()
                .unwrap_err()
                .to_string(),
            "ChainedScheduler.schedulers: must hold at least one schedule, got []"
        );
        let e = serde_json::from_str::<Box<dyn LrSchedulerConfig>>(
            r#"{"type":"ChainedScheduler","schedulers":[{"type":"NoSuchLR"}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown variant `NoSuchLR`"), "{e}");
    }

    #[test]
    fn round_trip_and_resume() {
        let c = ChainedSchedulerConfig {
            schedulers: vec![
                Box::new(ConstantLrConfig {
                    factor: 0.5,
                    total_iters: 3,
                    ..Default::default()
                }),
                Box::new(ExponentialLrConfig {
                    gamma: 0.9,
                    ..Default::default()
                }),
                Box::new(ReduceLrOnPlateauConfig {
                    patience: 1,
                    ..Default::default()
                }),
            ],
        };
        assert_round_trip(&c);
        let metrics = [3.0, 2.0, 2.5, 2.6, 2.7, 1.0];
        assert_resume(&c, &[1.0], 12, Some(&metrics));
        let mut s = c.build(&[1.0]).unwrap();
        assert_close(
            &sequence(s.as_mut(), 3, Some(&metrics)),
            &[0.5, 0.45, 0.405, 0.729],
        );
        let c = ChainedSchedulerConfig {
            schedulers: vec![Box::new(CyclicLrConfig {
                step_size_up: 2,
                ..Default::default()
            })],
        };
        assert_resume(&c, &[1.0], 7, None);
    }
}
