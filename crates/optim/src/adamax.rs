//! Adamax, the infinity-norm variant of Adam (Kingma & Ba 2015, section 7); matches
//! `torch.optim.Adamax`.
//!
//! ```text
//! g = ±grad + wd*p
//! m = m + (1-β1)(g - m)
//! u = max(β2*u, |g| + eps)
//! p = p - lr/(1-β1^t) * m/u
//! ```

use serde::{Deserialize, Serialize};
use tuna_autograd::NamedParam;
use tuna_tensor::{FloatElement, Tensor};

use crate::config::{OptimizerConfig, ParamGroupConfig};
#[allow(unused_imports)]
use crate::error::{
    adam_family, non_negative, torch_flags, unit_closed, unit_half_open, OptimError,
};
#[allow(unused_imports)]
use crate::optimizer::{
    float_dispatch, hyper_accessors, GroupedOptimizer, Optimizer, RuleState, StateRecord,
    UpdateRule,
};

/// Config of [`Adamax`] (`type = "Adamax"`); fields and defaults are `torch.optim.Adamax`'s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamaxConfig {
    /// `lr`, default 2e-3.
    pub lr: f64,
    /// `betas`, default (0.9, 0.999).
    pub betas: (f64, f64),
    /// `eps`, default 1e-8.
    pub eps: f64,
    /// `weight_decay` (L2), default 0.
    pub weight_decay: f64,
    /// `foreach` (accepted, no effect), default null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreach: Option<bool>,
    /// `maximize`, default false.
    pub maximize: bool,
    /// `differentiable`, default false; `true` is rejected.
    pub differentiable: bool,
    /// `capturable` (accepted, no effect on CPU), default false.
    pub capturable: bool,
}

impl Default for AdamaxConfig {
    fn default() -> Self {
        AdamaxConfig {
            lr: 2e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            foreach: None,
            maximize: false,
            differentiable: false,
            capturable: false,
        }
    }
}

/// The runtime Adamax optimizer.
pub type Adamax = GroupedOptimizer<AdamaxConfig>;

/// Adamax's state of one parameter.
#[derive(Clone, Debug)]
pub struct AdamaxState {
    /// Updates applied.
    pub step: u64,
    /// First moment estimate (PyTorch `exp_avg`).
    pub exp_avg: Tensor,
    /// Exponentially weighted infinity norm (`exp_inf`).
    pub exp_inf: Tensor,
}

impl RuleState for AdamaxState {
    fn step(&self) -> u64 {
        self.step
    }

    fn to_record(&self) -> StateRecord {
        StateRecord::new(self.step)
            .with("exp_avg", &self.exp_avg)
            .with("exp_inf", &self.exp_inf)
    }

    fn from_record(mut r: StateRecord) -> Result<Self, OptimError> {
        Ok(AdamaxState {
            step: r.step,
            exp_avg: r.tensor("exp_avg")?,
            exp_inf: r.tensor("exp_inf")?,
        })
    }
}

#[typetag::serde(name = "Adamax")]
impl OptimizerConfig for AdamaxConfig {
    fn validate(&self) -> Result<(), OptimError> {
        let t = self.name();
        adam_family(t, self.lr, self.betas, self.eps, self.weight_decay)?;
        torch_flags(t, self.differentiable)
    }

    fn build(
        &self,
        params: Vec<NamedParam>,
        groups: &[ParamGroupConfig],
    ) -> Result<Box<dyn Optimizer>, OptimError> {
        Ok(Box::new(Adamax::new(self, params, groups)?))
    }
}

impl UpdateRule for AdamaxConfig {
    hyper_accessors!(lr, momentum = betas.0);

    type State = AdamaxState;

    fn init_state(&self, param: &Tensor) -> AdamaxState {
        AdamaxState {
            step: 0,
            exp_avg: param.zeros_like(),
            exp_inf: param.zeros_like(),
        }
    }

    fn update(&self, param: &mut Tensor, grad: &Tensor, state: &mut AdamaxState) {
        state.step += 1;
        let clr = self.lr / (1.0 - self.betas.0.powf(state.step as f64));
        let m = &mut state.exp_avg;
        let u = &mut state.exp_inf;
        float_dispatch!(param.dtype(), T => {
            let c = [T::of(if self.maximize { -1.0 } else { 1.0 }), T::of(self.weight_decay), T::of(1.0 - self.betas.0), T::of(self.betas.1), T::of(self.eps), T::of(clr)];
            kernel(param.data_mut::<T>(), grad.as_slice::<T>().expect("contiguous grad"), m.data_mut::<T>(), u.data_mut::<T>(), c);
        });
    }
}

fn kernel<T: FloatElement>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    u: &mut [T],
    [gs, wd, omb1, b2, eps, clr]: [T; 6],
) {
    let n = p.len();
    let (g, m, u) = (&g[..n], &mut m[..n], &mut u[..n]);
    for i in 0..n {
        let gi = gs * g[i] + wd * p[i];
        let mi = m[i] + omb1 * (gi - m[i]);
        m[i] = mi;
        let ui = (b2 * u[i]).max(gi.abs() + eps);
        u[i] = ui;
        p[i] = p[i] - clr * (mi / ui);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{quadratic_run, roundtrip};

    #[test]
    fn serde_round_trip() {
        roundtrip(&AdamaxConfig::default());
    }

    #[test]
    fn defaults_match_pytorch() {
        let d = AdamaxConfig::default();
        assert_eq!(
            (d.lr, d.betas, d.eps, d.weight_decay),
            (2e-3, (0.9, 0.999), 1e-8, 0.0)
        );
    }

    #[test]
    fn validation_names_fields() {
        let e = AdamaxConfig {
            betas: (1.0, 0.9),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.to_string(), "Adamax.betas[0]: must be in [0, 1), got 1");
    }

    #[test]
    fn first_step_moves_by_lr() {
        let p = quadratic_run(
            &AdamaxConfig {
                lr: 0.1,
                ..Default::default()
            },
            1,
        );
        assert!((p - 0.9).abs() < 1e-7, "{p}");
    }
}
