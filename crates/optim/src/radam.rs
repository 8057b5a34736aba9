//! RAdam, rectified Adam (Liu et al. 2020, *On the Variance of the Adaptive Learning Rate and
//! Beyond*); matches `torch.optim.RAdam`.
//!
//! ```text
//! g = ±grad;  p = p*(1 - lr*wd) if decoupled_weight_decay else g = g + wd*p
//! m = m + (1-β1)(g - m);  v = β2*v + (1-β2)*g²;  m̂ = m/(1-β1^t)
//! ρ∞ = 2/(1-β2) - 1;  ρ_t = ρ∞ - 2t β2^t/(1-β2^t)
//! if ρ_t > 5:  r = sqrt((ρ_t-4)(ρ_t-2)ρ∞ / ((ρ∞-4)(ρ∞-2)ρ_t))
//!              p = p - lr * m̂ * r * sqrt(1-β2^t) / (sqrt(v) + eps)
//! else:        p = p - lr * m̂
//! ```

use serde::{Deserialize, Serialize};
use tuna_autograd::NamedParam;
use tuna_tensor::{FloatElement, Tensor};

#[allow(unused_imports)]
use crate::adam::MomentState;
use crate::config::{OptimizerConfig, ParamGroupConfig};
#[allow(unused_imports)]
use crate::error::{
    adam_family, non_negative, torch_flags, unit_closed, unit_half_open, OptimError,
};
use crate::optimizer::{float_dispatch, hyper_accessors, GroupedOptimizer, Optimizer, UpdateRule};

/// Config of [`RAdam`] (`type = "RAdam"`); fields and defaults are `torch.optim.RAdam`'s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RAdamConfig {
    /// `lr`, default 1e-3.
    pub lr: f64,
    /// `betas`, default (0.9, 0.999).
    pub betas: (f64, f64),
    /// `eps`, default 1e-8.
    pub eps: f64,
    /// `weight_decay`, default 0.
    pub weight_decay: f64,
    /// `decoupled_weight_decay`, default false.
    pub decoupled_weight_decay: bool,
    /// `foreach` (accepted, no effect), default null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreach: Option<bool>,
    /// `maximize`, default false.
    pub maximize: bool,
    /// `capturable` (accepted, no effect on CPU), default false.
    pub capturable: bool,
    /// `differentiable`, default false; `true` is rejected.
    pub differentiable: bool,
}

impl Default for RAdamConfig {
    fn default() -> Self {
        RAdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            foreach: None,
            maximize: false,
            capturable: false,
            differentiable: false,
        }
    }
}

/// The runtime RAdam optimizer.
pub type RAdam = GroupedOptimizer<RAdamConfig>;

/// RAdam's state of one parameter: the two moment estimates.
pub type RAdamState = MomentState;

#[typetag::serde(name = "RAdam")]
impl OptimizerConfig for RAdamConfig {
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
        Ok(Box::new(RAdam::new(self, params, groups)?))
    }
}

impl UpdateRule for RAdamConfig {
    hyper_accessors!(lr, momentum = betas.0);

    type State = MomentState;

    fn init_state(&self, param: &Tensor) -> MomentState {
        MomentState::zeros_like(param)
    }

    fn update(&self, param: &mut Tensor, grad: &Tensor, state: &mut MomentState) {
        state.step += 1;
        let t = state.step as f64;
        let (b1, b2) = self.betas;
        let bc1 = 1.0 - b1.powf(t);
        let bc2 = 1.0 - b2.powf(t);
        let rho_inf = 2.0 / (1.0 - b2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * b2.powf(t) / bc2;
        // rectified: p -= (lr/bc1 * rect * sqrt(bc2)) * m / (sqrt(v) + eps); else p -= lr/bc1 * m
        let (rectified, coef) = if rho_t > 5.0 {
            let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                .sqrt();
            (true, self.lr / bc1 * rect * bc2.sqrt())
        } else {
            (false, self.lr / bc1)
        };
        let decoupled = self.decoupled_weight_decay;
        let m = &mut state.exp_avg;
        let v = &mut state.exp_avg_sq;
        float_dispatch!(param.dtype(), T => {
            let c = [
                T::of(if decoupled { 1.0 - self.lr * self.weight_decay } else { 1.0 }),
                T::of(if self.maximize { -1.0 } else { 1.0 }),
                T::of(if decoupled { 0.0 } else { self.weight_decay }),
                T::of(1.0 - b1),
                T::of(b2),
                T::of(1.0 - b2),
                T::of(self.eps),
                T::of(coef),
            ];
            kernel(param.data_mut::<T>(), grad.as_slice::<T>().expect("contiguous grad"), m.data_mut::<T>(), v.data_mut::<T>(), rectified, c);
        });
    }
}

fn kernel<T: FloatElement>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    rectified: bool,
    [ps, gs, wd, omb1, b2, omb2, eps, coef]: [T; 8],
) {
    let n = p.len();
    let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
    for i in 0..n {
        let p0 = p[i] * ps;
        let gi = gs * g[i] + wd * p0;
        let mi = m[i] + omb1 * (gi - m[i]);
        let vi = b2 * v[i] + omb2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        p[i] = if rectified {
            p0 - coef * (mi / (vi.sqrt() + eps))
        } else {
            p0 - coef * mi
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{quadratic_run, roundtrip};

    #[test]
    fn serde_round_trip() {
        roundtrip(&RAdamConfig::default());
    }

    #[test]
    fn defaults_match_pytorch() {
        let d = RAdamConfig::default();
        assert_eq!(
            (d.lr, d.betas, d.eps, d.weight_decay),
            (1e-3, (0.9, 0.999), 1e-8, 0.0)
        );
    }

    #[test]
    fn validation_names_fields() {
        let e = RAdamConfig {
            lr: f64::NAN,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("RAdam.lr:"), "{e}");
    }

    #[test]
    fn first_steps_are_sgd_with_momentum() {
        // rho_t <= 5 at t = 1: p -= lr * m_hat = lr * g
        let p = quadratic_run(
            &RAdamConfig {
                lr: 0.1,
                ..Default::default()
            },
            1,
        );
        assert!((p - 0.8).abs() < 1e-12, "{p}");
    }
}
