//! Adagrad (Duchi et al. 2011, *Adaptive Subgradient Methods for Online Learning and
//! Stochastic Optimization*); matches `torch.optim.Adagrad`.
//!
//! ```text
//! g   = ±grad + wd*p
//! clr = lr / (1 + (t-1)*lr_decay)
//! sum = sum + g²                       (sum₀ = initial_accumulator_value)
//! p   = p - clr * g / (sqrt(sum) + eps)
//! ```

use serde::{Deserialize, Serialize};
use tuna_autograd::NamedParam;
use tuna_tensor::{FloatElement, Tensor};

use crate::config::{OptimizerConfig, ParamGroupConfig};
use crate::error::{non_negative, torch_flags, OptimError};
use crate::optimizer::{
    float_dispatch, hyper_accessors, GroupedOptimizer, Optimizer, RuleState, StateRecord,
    UpdateRule,
};

/// Config of [`Adagrad`] (`type = "Adagrad"`); fields and defaults are
/// `torch.optim.Adagrad`'s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdagradConfig {
    /// `lr`, default 1e-2.
    pub lr: f64,
    /// `lr_decay`, default 0.
    pub lr_decay: f64,
    /// `weight_decay` (L2), default 0.
    pub weight_decay: f64,
    /// `initial_accumulator_value`, default 0.
    pub initial_accumulator_value: f64,
    /// `eps`, default 1e-10.
    pub eps: f64,
    /// `foreach` (accepted, no effect), default null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreach: Option<bool>,
    /// `maximize`, default false.
    pub maximize: bool,
    /// `differentiable`, default false; `true` is rejected.
    pub differentiable: bool,
    /// `fused` (accepted, no effect), default null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fused: Option<bool>,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        AdagradConfig {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            foreach: None,
            maximize: false,
            differentiable: false,
            fused: None,
        }
    }
}

/// The runtime Adagrad optimizer.
pub type Adagrad = GroupedOptimizer<AdagradConfig>;

/// Adagrad's state of one parameter.
#[derive(Clone, Debug)]
pub struct AdagradState {
    /// Updates applied.
    pub step: u64,
    /// Sum of squared gradients (`sum`).
    pub sum: Tensor,
}

impl RuleState for AdagradState {
    fn step(&self) -> u64 {
        self.step
    }

    fn to_record(&self) -> StateRecord {
        StateRecord::new(self.step).with("sum", &self.sum)
    }

    fn from_record(mut r: StateRecord) -> Result<Self, OptimError> {
        Ok(AdagradState {
            step: r.step,
            sum: r.tensor("sum")?,
        })
    }
}

#[typetag::serde(name = "Adagrad")]
impl OptimizerConfig for AdagradConfig {
    fn validate(&self) -> Result<(), OptimError> {
        let t = self.name();
        non_negative(t, "lr", self.lr)?;
        non_negative(t, "lr_decay", self.lr_decay)?;
        non_negative(t, "weight_decay", self.weight_decay)?;
        non_negative(
            t,
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        non_negative(t, "eps", self.eps)?;
        torch_flags(t, self.differentiable)
    }

    fn build(
        &self,
        params: Vec<NamedParam>,
        groups: &[ParamGroupConfig],
    ) -> Result<Box<dyn Optimizer>, OptimError> {
        Ok(Box::new(Adagrad::new(self, params, groups)?))
    }
}

impl UpdateRule for AdagradConfig {
    hyper_accessors!(lr);

    type State = AdagradState;

    fn init_state(&self, param: &Tensor) -> AdagradState {
        AdagradState {
            step: 0,
            sum: param.full_like(self.initial_accumulator_value),
        }
    }

    fn update(&self, param: &mut Tensor, grad: &Tensor, state: &mut AdagradState) {
        state.step += 1;
        let clr = self.lr / (1.0 + (state.step - 1) as f64 * self.lr_decay);
        let sum = &mut state.sum;
        float_dispatch!(param.dtype(), T => {
            let (gsign, wd, eps, clr) = (
                T::of(if self.maximize { -1.0 } else { 1.0 }),
                T::of(self.weight_decay),
                T::of(self.eps),
                T::of(clr),
            );
            let p = param.data_mut::<T>();
            let g = grad.as_slice::<T>().expect("contiguous grad");
            let s = sum.data_mut::<T>();
            kernel(p, g, s, gsign, wd, eps, clr);
        });
    }
}

fn kernel<T: FloatElement>(p: &mut [T], g: &[T], s: &mut [T], gsign: T, wd: T, eps: T, clr: T) {
    for ((p, &g), s) in p.iter_mut().zip(g).zip(s.iter_mut()) {
        let gi = gsign * g + wd * *p;
        let si = *s + gi * gi;
        *s = si;
        *p = *p - clr * (gi / (si.sqrt() + eps));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{quadratic_run, roundtrip};

    #[test]
    fn defaults_match_pytorch() {
        let d = AdagradConfig::default();
        assert_eq!(
            (
                d.lr,
                d.lr_decay,
                d.weight_decay,
                d.initial_accumulator_value,
                d.eps
            ),
            (1e-2, 0.0, 0.0, 0.0, 1e-10)
        );
    }

    #[test]
    fn validation_names_fields() {
        let e = AdagradConfig {
            lr_decay: -1.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("Adagrad.lr_decay:"), "{e}");
    }

    #[test]
    fn serde_round_trip() {
        roundtrip(&AdagradConfig {
            lr_decay: 0.01,
            ..Default::default()
        });
    }

    #[test]
    fn first_step_is_lr_sign() {
        let p = quadratic_run(
            &AdagradConfig {
                lr: 0.1,
                ..Default::default()
            },
            1,
        );
        assert!((p - 0.9).abs() < 1e-9, "{p}");
    }
}
