//! Rprop, resilient backpropagation (Riedmiller & Braun 1993); matches `torch.optim.Rprop`.
//!
//! ```text
//! g = ±grad;  s = sign(g * prev)
//! η = η+ if s > 0, η- if s < 0, 1 otherwise
//! step_size = clamp(step_size * η, step_sizes.0, step_sizes.1)   (initially lr)
//! g = 0 where η = η-
//! p = p - sign(g) * step_size;   prev = g
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

/// Config of [`Rprop`] (`type = "Rprop"`); fields and defaults are `torch.optim.Rprop`'s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RpropConfig {
    /// `lr` (initial step size), default 1e-2.
    pub lr: f64,
    /// `etas` (η-, η+), default (0.5, 1.2).
    pub etas: (f64, f64),
    /// `step_sizes` (min, max), default (1e-6, 50).
    pub step_sizes: (f64, f64),
    /// `capturable` (accepted, no effect on CPU), default false.
    pub capturable: bool,
    /// `foreach` (accepted, no effect), default null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreach: Option<bool>,
    /// `maximize`, default false.
    pub maximize: bool,
    /// `differentiable`, default false; `true` is rejected.
    pub differentiable: bool,
}

impl Default for RpropConfig {
    fn default() -> Self {
        RpropConfig {
            lr: 1e-2,
            etas: (0.5, 1.2),
            step_sizes: (1e-6, 50.0),
            capturable: false,
            foreach: None,
            maximize: false,
            differentiable: false,
        }
    }
}

/// The runtime Rprop optimizer.
pub type Rprop = GroupedOptimizer<RpropConfig>;

/// Rprop's state of one parameter.
#[derive(Clone, Debug)]
pub struct RpropState {
    /// Updates applied.
    pub step: u64,
    /// The previous gradient (`prev`).
    pub prev: Tensor,
    /// Per-element step sizes (`step_size`).
    pub step_size: Tensor,
}

impl RuleState for RpropState {
    fn step(&self) -> u64 {
        self.step
    }

    fn to_record(&self) -> StateRecord {
        StateRecord::new(self.step)
            .with("prev", &self.prev)
            .with("step_size", &self.step_size)
    }

    fn from_record(mut r: StateRecord) -> Result<Self, OptimError> {
        Ok(RpropState {
            step: r.step,
            prev: r.tensor("prev")?,
            step_size: r.tensor("step_size")?,
        })
    }
}

#[typetag::serde(name = "Rprop")]
impl OptimizerConfig for RpropConfig {
    fn validate(&self) -> Result<(), OptimError> {
        let t = self.name();
        non_negative(t, "lr", self.lr)?;
        let (em, ep) = self.etas;
        if !(0.0 < em && em < 1.0) {
            return Err(OptimError::config(
                t,
                "etas[0]",
                format!("must be in (0, 1), got {em}"),
            ));
        }
        if !(ep > 1.0 && ep.is_finite()) {
            return Err(OptimError::config(
                t,
                "etas[1]",
                format!("must be a finite number > 1, got {ep}"),
            ));
        }
        non_negative(t, "step_sizes[0]", self.step_sizes.0)?;
        if self.step_sizes.1.is_nan() || self.step_sizes.1 < self.step_sizes.0 {
            return Err(OptimError::config(
                t,
                "step_sizes[1]",
                format!(
                    "must be >= step_sizes[0] = {}, got {}",
                    self.step_sizes.0, self.step_sizes.1
                ),
            ));
        }
        torch_flags(t, self.differentiable)
    }

    fn build(
        &self,
        params: Vec<NamedParam>,
        groups: &[ParamGroupConfig],
    ) -> Result<Box<dyn Optimizer>, OptimError> {
        Ok(Box::new(Rprop::new(self, params, groups)?))
    }
}

impl UpdateRule for RpropConfig {
    hyper_accessors!(lr);

    type State = RpropState;

    fn init_state(&self, param: &Tensor) -> RpropState {
        RpropState {
            step: 0,
            prev: param.zeros_like(),
            step_size: param.full_like(self.lr),
        }
    }

    fn update(&self, param: &mut Tensor, grad: &Tensor, state: &mut RpropState) {
        state.step += 1;
        let prev = &mut state.prev;
        let ss = &mut state.step_size;
        float_dispatch!(param.dtype(), T => {
            let c = [T::of(if self.maximize { -1.0 } else { 1.0 }), T::of(self.etas.0), T::of(self.etas.1), T::of(self.step_sizes.0), T::of(self.step_sizes.1)];
            kernel(param.data_mut::<T>(), grad.as_slice::<T>().expect("contiguous grad"), prev.data_mut::<T>(), ss.data_mut::<T>(), c);
        });
    }
}

/// `sign(x)` with `sign(0) = 0` (unlike `f32::signum`).
#[inline(always)]
pub(crate) fn sign<T: FloatElement>(x: T) -> T {
    if x > T::zero() {
        T::one()
    } else if x < T::zero() {
        -T::one()
    } else {
        x * T::zero()
    }
}

fn kernel<T: FloatElement>(
    p: &mut [T],
    g: &[T],
    prev: &mut [T],
    ss: &mut [T],
    [gs, em, ep, smin, smax]: [T; 5],
) {
    let n = p.len();
    let (g, prev, ss) = (&g[..n], &mut prev[..n], &mut ss[..n]);
    for i in 0..n {
        let mut gi = gs * g[i];
        let prod = gi * prev[i];
        let eta = if prod > T::zero() {
            ep
        } else if prod < T::zero() {
            em
        } else {
            T::one()
        };
        ss[i] = (ss[i] * eta).max(smin).min(smax);
        if eta == em {
            gi = T::zero();
        }
        p[i] = p[i] - sign(gi) * ss[i];
        prev[i] = gi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{quadratic_run, roundtrip};

    #[test]
    fn serde_round_trip() {
        roundtrip(&RpropConfig::default());
    }

    #[test]
    fn defaults_match_pytorch() {
        let d = RpropConfig::default();
        assert_eq!(
            (d.lr, d.etas, d.step_sizes),
            (1e-2, (0.5, 1.2), (1e-6, 50.0))
        );
    }

    #[test]
    fn validation_names_fields() {
        let e = RpropConfig {
            etas: (0.5, 0.9),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Rprop.etas[1]: must be a finite number > 1, got 0.9"
        );
    }

    #[test]
    fn first_step_is_lr_sign() {
        let p = quadratic_run(
            &RpropConfig {
                lr: 0.1,
                ..Default::default()
            },
            1,
        );
        assert!((p - 0.9).abs() < 1e-12, "{p}");
    }
}
