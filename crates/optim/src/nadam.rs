//! NAdam, Adam with Nesterov momentum (Dozat 2016, *Incorporating Nesterov Momentum into
//! Adam*), with the momentum-decay schedule; matches `torch.optim.NAdam`.
//!
//! ```text
//! g    = ±grad;  p = p*(1 - lr*wd) if decoupled_weight_decay else g = g + wd*p
//! μ_t  = β1 * (1 - 0.5 * 0.96^(t*momentum_decay));  Π_t = Π_{t-1} * μ_t
//! m    = m + (1-β1)(g - m);  v = β2*v + (1-β2)*g²
//! d    = sqrt(v/(1-β2^t)) + eps
//! p    = p - lr*(1-μ_t)/(1-Π_t) * g/d - lr*μ_{t+1}/(1-Π_t*μ_{t+1}) * m/d
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

/// Config of [`NAdam`] (`type = "NAdam"`); fields and defaults are `torch.optim.NAdam`'s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NAdamConfig {
    /// `lr`, default 2e-3.
    pub lr: f64,
    /// `betas`, default (0.9, 0.999).
    pub betas: (f64, f64),
    /// `eps`, default 1e-8.
    pub eps: f64,
    /// `weight_decay`, default 0.
    pub weight_decay: f64,
    /// `momentum_decay`, default 4e-3.
    pub momentum_decay: f64,
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

impl Default for NAdamConfig {
    fn default() -> Self {
        NAdamConfig {
            lr: 2e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 4e-3,
            decoupled_weight_decay: false,
            foreach: None,
            maximize: false,
            capturable: false,
            differentiable: false,
        }
    }
}

/// The runtime NAdam optimizer.
pub type NAdam = GroupedOptimizer<NAdamConfig>;

/// NAdam's state of one parameter.
#[derive(Clone, Debug)]
pub struct NAdamState {
    /// Updates applied.
    pub step: u64,
    /// First moment estimate (`exp_avg`).
    pub exp_avg: Tensor,
    /// Second moment estimate (`exp_avg_sq`).
    pub exp_avg_sq: Tensor,
    /// The product of the momentum coefficients so far (`mu_product`, rounded to f32 as
    /// PyTorch keeps it).
    pub mu_product: f64,
}

impl RuleState for NAdamState {
    fn step(&self) -> u64 {
        self.step
    }

    fn to_record(&self) -> StateRecord {
        StateRecord::new(self.step)
            .with("exp_avg", &self.exp_avg)
            .with("exp_avg_sq", &self.exp_avg_sq)
            .with_scalar("mu_product", self.mu_product)
    }

    fn from_record(mut r: StateRecord) -> Result<Self, OptimError> {
        Ok(NAdamState {
            step: r.step,
            exp_avg: r.tensor("exp_avg")?,
            exp_avg_sq: r.tensor("exp_avg_sq")?,
            mu_product: r.scalar("mu_product")?,
        })
    }
}

#[typetag::serde(name = "NAdam")]
impl OptimizerConfig for NAdamConfig {
    fn validate(&self) -> Result<(), OptimError> {
        let t = self.name();
        adam_family(t, self.lr, self.betas, self.eps, self.weight_decay)?;
        non_negative(t, "momentum_decay", self.momentum_decay)?;
        torch_flags(t, self.differentiable)
    }

    fn build(
        &self,
        params: Vec<NamedParam>,
        groups: &[ParamGroupConfig],
    ) -> Result<Box<dyn Optimizer>, OptimError> {
        Ok(Box::new(NAdam::new(self, params, groups)?))
    }
}

impl UpdateRule for NAdamConfig {
    hyper_accessors!(lr, momentum = betas.0);

    type State = NAdamState;

    fn init_state(&self, param: &Tensor) -> NAdamState {
        NAdamState {
            step: 0,
            exp_avg: param.zeros_like(),
            exp_avg_sq: param.zeros_like(),
            mu_product: 1.0,
        }
    }

    fn update(&self, param: &mut Tensor, grad: &Tensor, state: &mut NAdamState) {
        state.step += 1;
        let t = state.step as f64;
        let (b1, b2) = self.betas;
        let bc2 = 1.0 - b2.powf(t);
        let mu = b1 * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay));
        let mu_next = b1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * self.momentum_decay));
        // PyTorch keeps `mu_product` in a float32 scalar tensor (the default scalar dtype):
        // round it the same way for parity.
        let mu_product = f64::from(state.mu_product as f32 * mu as f32);
        state.mu_product = mu_product;
        let mu_product_next = mu_product * mu_next;
        let decoupled = self.decoupled_weight_decay;
        let (m, v) = (&mut state.exp_avg, &mut state.exp_avg_sq);
        float_dispatch!(param.dtype(), T => {
            let c = [
                T::of(if decoupled { 1.0 - self.lr * self.weight_decay } else { 1.0 }),
                T::of(if self.maximize { -1.0 } else { 1.0 }),
                T::of(if decoupled { 0.0 } else { self.weight_decay }),
                T::of(1.0 - b1),
                T::of(b2),
                T::of(1.0 - b2),
                T::of(1.0 / bc2.sqrt()),
                T::of(self.eps),
                T::of(self.lr * (1.0 - mu) / (1.0 - mu_product)),
                T::of(self.lr * mu_next / (1.0 - mu_product_next)),
            ];
            kernel(param.data_mut::<T>(), grad.as_slice::<T>().expect("contiguous grad"), m.data_mut::<T>(), v.data_mut::<T>(), c);
        });
    }
}

fn kernel<T: FloatElement>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    [ps, gs, wd, omb1, b2, omb2, inv_bc2s, eps, cg, cm]: [T; 10],
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
        let d = vi.sqrt() * inv_bc2s + eps;
        p[i] = p0 - cg * (gi / d) - cm * (mi / d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{quadratic_run, roundtrip};

    #[test]
    fn serde_round_trip() {
        roundtrip(&NAdamConfig::default());
    }

    #[test]
    fn defaults_match_pytorch() {
        let d = NAdamConfig::default();
        assert_eq!(
            (d.lr, d.betas, d.eps, d.weight_decay, d.momentum_decay),
            (2e-3, (0.9, 0.999), 1e-8, 0.0, 4e-3)
        );
        assert!(!d.decoupled_weight_decay);
    }

    #[test]
    fn validation_names_fields() {
        let e = NAdamConfig {
            momentum_decay: -1.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("NAdam.momentum_decay:"), "{e}");
    }

    #[test]
    fn descends() {
        assert!(
            quadratic_run(
                &NAdamConfig {
                    lr: 0.1,
                    ..Default::default()
                },
                3
            ) < 1.0
        );
    }
}
