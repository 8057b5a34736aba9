//! Averaged SGD (Polyak & Juditsky 1992, *Acceleration of Stochastic Approximation by
//! Averaging*); matches `torch.optim.ASGD`. The averaged parameters are the state tensor
//! `ax` (PyTorch `state["ax"]`).
//!
//! ```text
//! g   = ±grad + wd*p
//! p   = p*(1 - λ*η) - η*g
//! ax  = ax + μ(p - ax)   (ax = p while μ = 1)
//! η   = lr / (1 + λ*lr*t)^α;   μ = 1 / max(1, t - t0)
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

/// Config of [`Asgd`] (`type = "ASGD"`); fields and defaults are `torch.optim.ASGD`'s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AsgdConfig {
    /// `lr`, default 1e-2.
    pub lr: f64,
    /// `lambd` (decay term), default 1e-4.
    pub lambd: f64,
    /// `alpha` (power for eta update), default 0.75.
    pub alpha: f64,
    /// `t0` (step at which averaging starts), default 1e6.
    pub t0: f64,
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

impl Default for AsgdConfig {
    fn default() -> Self {
        AsgdConfig {
            lr: 1e-2,
            lambd: 1e-4,
            alpha: 0.75,
            t0: 1e6,
            weight_decay: 0.0,
            foreach: None,
            maximize: false,
            differentiable: false,
            capturable: false,
        }
    }
}

/// The runtime ASGD optimizer.
pub type Asgd = GroupedOptimizer<AsgdConfig>;

/// ASGD's state of one parameter.
#[derive(Clone, Debug)]
pub struct AsgdState {
    /// Updates applied.
    pub step: u64,
    /// The averaged parameter (`ax`).
    pub ax: Tensor,
    /// The current step size (`eta`).
    pub eta: f64,
    /// The averaging coefficient (`mu`).
    pub mu: f64,
}

impl RuleState for AsgdState {
    fn step(&self) -> u64 {
        self.step
    }

    fn to_record(&self) -> StateRecord {
        StateRecord::new(self.step)
            .with("ax", &self.ax)
            .with_scalar("eta", self.eta)
            .with_scalar("mu", self.mu)
    }

    fn from_record(mut r: StateRecord) -> Result<Self, OptimError> {
        Ok(AsgdState {
            step: r.step,
            ax: r.tensor("ax")?,
            eta: r.scalar("eta")?,
            mu: r.scalar("mu")?,
        })
    }
}

#[typetag::serde(name = "ASGD")]
impl OptimizerConfig for AsgdConfig {
    fn validate(&self) -> Result<(), OptimError> {
        let t = self.name();
        non_negative(t, "lr", self.lr)?;
        non_negative(t, "lambd", self.lambd)?;
        non_negative(t, "alpha", self.alpha)?;
        non_negative(t, "t0", self.t0)?;
        non_negative(t, "weight_decay", self.weight_decay)?;
        torch_flags(t, self.differentiable)
    }

    fn build(
        &self,
        params: Vec<NamedParam>,
        groups: &[ParamGroupConfig],
    ) -> Result<Box<dyn Optimizer>, OptimError> {
        Ok(Box::new(Asgd::new(self, params, groups)?))
    }
}

impl UpdateRule for AsgdConfig {
    hyper_accessors!(lr);

    type State = AsgdState;

    fn init_state(&self, param: &Tensor) -> AsgdState {
        AsgdState {
            step: 0,
            ax: param.zeros_like(),
            eta: f32r(self.lr),
            mu: 1.0,
        }
    }

    fn update(&self, param: &mut Tensor, grad: &Tensor, state: &mut AsgdState) {
        state.step += 1;
        let t = state.step as f64;
        let (eta, mu) = (state.eta, state.mu);
        let ax = &mut state.ax;
        float_dispatch!(param.dtype(), T => {
            let c = [T::of(if self.maximize { -1.0 } else { 1.0 }), T::of(self.weight_decay), T::of(1.0 - self.lambd * eta), T::of(eta), T::of(mu)];
            kernel(param.data_mut::<T>(), grad.as_slice::<T>().expect("contiguous grad"), ax.data_mut::<T>(), mu == 1.0, c);
        });
        state.eta = f32r(self.lr / (1.0 + self.lambd * self.lr * t).powf(self.alpha));
        state.mu = f32r(1.0 / (t - self.t0).max(1.0));
    }
}

/// PyTorch keeps `eta` and `mu` in float32 scalar tensors (the default scalar dtype): round
/// them the same way for parity.
fn f32r(x: f64) -> f64 {
    f64::from(x as f32)
}

fn kernel<T: FloatElement>(
    p: &mut [T],
    g: &[T],
    ax: &mut [T],
    copy: bool,
    [gs, wd, decay, eta, mu]: [T; 5],
) {
    let n = p.len();
    let (g, ax) = (&g[..n], &mut ax[..n]);
    for i in 0..n {
        let gi = gs * g[i] + wd * p[i];
        let pi = p[i] * decay - eta * gi;
        p[i] = pi;
        ax[i] = if copy { pi } else { ax[i] + (pi - ax[i]) * mu };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{quadratic_run, roundtrip};

    #[test]
    fn serde_round_trip() {
        roundtrip(&AsgdConfig::default());
    }

    #[test]
    fn defaults_match_pytorch() {
        let d = AsgdConfig::default();
        assert_eq!(
            (d.lr, d.lambd, d.alpha, d.t0, d.weight_decay),
            (1e-2, 1e-4, 0.75, 1e6, 0.0)
        );
    }

    #[test]
    fn validation_names_fields() {
        let e = AsgdConfig {
            t0: -1.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("ASGD.t0:"), "{e}");
    }

    #[test]
    fn first_step_closed_form() {
        // p = 1*(1 - 1e-4*0.5) - 0.5*2 (lr 0.5 is exact in the f32 `eta` PyTorch keeps)
        let p = quadratic_run(
            &AsgdConfig {
                lr: 0.5,
                ..Default::default()
            },
            1,
        );
        assert!((p - (1.0 - 5e-5 - 1.0)).abs() < 1e-12, "{p}");
    }
}
