//! Adadelta (Zeiler 2012, *ADADELTA: An Adaptive Learning Rate Method*); matches
//! `torch.optim.Adadelta`.
//!
//! ```text
//! g     = ±grad + wd*p
//! sq    = ρ*sq + (1-ρ)*g²
//! delta = sqrt(acc + eps) / sqrt(sq + eps) * g
//! acc   = ρ*acc + (1-ρ)*delta²
//! p     = p - lr*delta
//! ```

use serde::{Deserialize, Serialize};
use tuna_autograd::NamedParam;
use tuna_tensor::{FloatElement, Tensor};

use crate::config::{OptimizerConfig, ParamGroupConfig};
#[allow(unused_imports)]
use crate::error::{non_negative, torch_flags, unit_closed, unit_half_open, OptimError};
#[allow(unused_imports)]
use crate::optimizer::{
    float_dispatch, hyper_accessors, GroupedOptimizer, Optimizer, RuleState, StateRecord,
    UpdateRule,
};

/// Config of [`Adadelta`] (`type = "Adadelta"`); fields and defaults are `torch.optim.Adadelta`'s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdadeltaConfig {
    /// `lr`, default 1.0.
    pub lr: f64,
    /// `rho`, default 0.9.
    pub rho: f64,
    /// `eps`, default 1e-6.
    pub eps: f64,
    /// `weight_decay` (L2), default 0.
    pub weight_decay: f64,
    /// `foreach` (accepted, no effect), default null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreach: Option<bool>,
    /// `capturable` (accepted, no effect on CPU), default false.
    pub capturable: bool,
    /// `maximize`, default false.
    pub maximize: bool,
    /// `differentiable`, default false; `true` is rejected.
    pub differentiable: bool,
}

impl Default for AdadeltaConfig {
    fn default() -> Self {
        AdadeltaConfig {
            lr: 1.0,
            rho: 0.9,
            eps: 1e-6,
            weight_decay: 0.0,
            foreach: None,
            capturable: false,
            maximize: false,
            differentiable: false,
        }
    }
}

/// The runtime Adadelta optimizer.
pub type Adadelta = GroupedOptimizer<AdadeltaConfig>;

/// Adadelta's state of one parameter.
#[derive(Clone, Debug)]
pub struct AdadeltaState {
    /// Updates applied.
    pub step: u64,
    /// Running average of the squared gradient (`square_avg`).
    pub square_avg: Tensor,
    /// Running average of the squared update (`acc_delta`).
    pub acc_delta: Tensor,
}

impl RuleState for AdadeltaState {
    fn step(&self) -> u64 {
        self.step
    }

    fn to_record(&self) -> StateRecord {
        StateRecord::new(self.step)
            .with("square_avg", &self.square_avg)
            .with("acc_delta", &self.acc_delta)
    }

    fn from_record(mut r: StateRecord) -> Result<Self, OptimError> {
        Ok(AdadeltaState {
            step: r.step,
            square_avg: r.tensor("square_avg")?,
            acc_delta: r.tensor("acc_delta")?,
        })
    }
}

#[typetag::serde(name = "Adadelta")]
impl OptimizerConfig for AdadeltaConfig {
    fn validate(&self) -> Result<(), OptimError> {
        let t = self.name();
        non_negative(t, "lr", self.lr)?;
        unit_closed(t, "rho", self.rho)?;
        non_negative(t, "eps", self.eps)?;
        non_negative(t, "weight_decay", self.weight_decay)?;
        torch_flags(t, self.differentiable)
    }

    fn build(
        &self,
        params: Vec<NamedParam>,
        groups: &[ParamGroupConfig],
    ) -> Result<Box<dyn Optimizer>, OptimError> {
        Ok(Box::new(Adadelta::new(self, params, groups)?))
    }
}

impl UpdateRule for AdadeltaConfig {
    hyper_accessors!(lr);

    type State = AdadeltaState;

    fn init_state(&self, param: &Tensor) -> AdadeltaState {
        AdadeltaState {
            step: 0,
            square_avg: param.zeros_like(),
            acc_delta: param.zeros_like(),
        }
    }

    fn update(&self, param: &mut Tensor, grad: &Tensor, state: &mut AdadeltaState) {
        state.step += 1;
        let sq = &mut state.square_avg;
        let acc = &mut state.acc_delta;
        float_dispatch!(param.dtype(), T => {
            let c = [T::of(if self.maximize { -1.0 } else { 1.0 }), T::of(self.weight_decay), T::of(self.rho), T::of(1.0 - self.rho), T::of(self.eps), T::of(self.lr)];
            kernel(param.data_mut::<T>(), grad.as_slice::<T>().expect("contiguous grad"), sq.data_mut::<T>(), acc.data_mut::<T>(), c);
        });
    }
}

fn kernel<T: FloatElement>(
    p: &mut [T],
    g: &[T],
    sq: &mut [T],
    acc: &mut [T],
    [gs, wd, rho, omr, eps, lr]: [T; 6],
) {
    let n = p.len();
    let (g, sq, acc) = (&g[..n], &mut sq[..n], &mut acc[..n]);
    for i in 0..n {
        let gi = gs * g[i] + wd * p[i];
        let s = rho * sq[i] + omr * (gi * gi);
        sq[i] = s;
        let delta = (acc[i] + eps).sqrt() / (s + eps).sqrt() * gi;
        acc[i] = rho * acc[i] + omr * (delta * delta);
        p[i] = p[i] - lr * delta;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{quadratic_run, roundtrip};

    #[test]
    fn serde_round_trip() {
        roundtrip(&AdadeltaConfig::default());
    }

    #[test]
    fn defaults_match_pytorch() {
        let d = AdadeltaConfig::default();
        assert_eq!((d.lr, d.rho, d.eps, d.weight_decay), (1.0, 0.9, 1e-6, 0.0));
    }

    #[test]
    fn validation_names_fields() {
        let e = AdadeltaConfig {
            rho: 1.5,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.to_string(), "Adadelta.rho: must be in [0, 1], got 1.5");
    }

    #[test]
    fn descends() {
        assert!(quadratic_run(&AdadeltaConfig::default(), 3) < 1.0);
    }
}
