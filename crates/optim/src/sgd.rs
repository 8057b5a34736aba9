//! SGD with momentum, dampening, Nesterov momentum and L2 weight decay; matches
//! `torch.optim.SGD`.
//!
//! ```text
//! g = ±grad + weight_decay * p                      (− if maximize)
//! if momentum != 0:
//!     buf = g                                       (first step)
//!     buf = momentum * buf + (1 - dampening) * g    (later steps)
//!     g = g + momentum * buf  if nesterov  else  buf
//! p = p - lr * g
//! ```
//! Nesterov momentum: Sutskever et al. 2013, *On the importance of initialization and
//! momentum in deep learning*.

use serde::{Deserialize, Serialize};
use tuna_autograd::NamedParam;
use tuna_tensor::{FloatElement, Tensor};

use crate::config::{OptimizerConfig, ParamGroupConfig};
use crate::error::{non_negative, torch_flags, OptimError};
use crate::optimizer::{
    float_dispatch, hyper_accessors, GroupedOptimizer, Optimizer, RuleState, StateRecord,
    UpdateRule,
};

/// Config of [`Sgd`] (`type = "SGD"`); fields and defaults are `torch.optim.SGD`'s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SgdConfig {
    /// `lr`, default 1e-3.
    pub lr: f64,
    /// `momentum`, default 0.
    pub momentum: f64,
    /// `dampening`, default 0.
    pub dampening: f64,
    /// `weight_decay` (L2, added to the gradient), default 0.
    pub weight_decay: f64,
    /// `nesterov`, default false; needs `momentum > 0` and `dampening = 0`.
    pub nesterov: bool,
    /// `maximize`, default false: ascend instead of descend.
    pub maximize: bool,
    /// `foreach` (PyTorch implementation switch; accepted, no effect), default null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreach: Option<bool>,
    /// `differentiable`, default false; `true` is rejected.
    pub differentiable: bool,
    /// `fused` (accepted, no effect: Tuna's update is always one fused loop), default null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fused: Option<bool>,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
            foreach: None,
            differentiable: false,
            fused: None,
        }
    }
}

/// The runtime SGD optimizer.
pub type Sgd = GroupedOptimizer<SgdConfig>;

/// SGD's state of one parameter.
#[derive(Clone, Debug)]
pub struct SgdState {
    /// Updates applied.
    pub step: u64,
    /// Momentum buffer (`momentum_buffer`, when `momentum != 0`).
    pub momentum_buffer: Option<Tensor>,
}

impl RuleState for SgdState {
    fn step(&self) -> u64 {
        self.step
    }

    fn to_record(&self) -> StateRecord {
        StateRecord::new(self.step).with_optional("momentum_buffer", self.momentum_buffer.as_ref())
    }

    fn from_record(mut r: StateRecord) -> Result<Self, OptimError> {
        Ok(SgdState {
            step: r.step,
            momentum_buffer: r.optional_tensor("momentum_buffer"),
        })
    }
}

#[typetag::serde(name = "SGD")]
impl OptimizerConfig for SgdConfig {
    fn validate(&self) -> Result<(), OptimError> {
        let t = self.name();
        non_negative(t, "lr", self.lr)?;
        non_negative(t, "momentum", self.momentum)?;
        non_negative(t, "dampening", self.dampening)?;
        non_negative(t, "weight_decay", self.weight_decay)?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(OptimError::config(
                t,
                "nesterov",
                format!(
                    "requires momentum > 0 and dampening = 0, got momentum {} and dampening {}",
                    self.momentum, self.dampening
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
        Ok(Box::new(Sgd::new(self, params, groups)?))
    }
}

impl UpdateRule for SgdConfig {
    hyper_accessors!(lr, momentum = momentum);

    type State = SgdState;

    fn init_state(&self, param: &Tensor) -> SgdState {
        SgdState {
            step: 0,
            momentum_buffer: (self.momentum != 0.0).then(|| param.zeros_like()),
        }
    }

    fn update(&self, param: &mut Tensor, grad: &Tensor, state: &mut SgdState) {
        let first = state.step == 0;
        state.step += 1;
        let has_buf = self.momentum != 0.0;
        // A buffer is missing if momentum was switched on after the first step: start it then.
        let fresh = match &state.momentum_buffer {
            Some(_) if has_buf => first,
            _ if has_buf => {
                state.momentum_buffer = Some(param.zeros_like());
                true
            }
            _ => {
                state.momentum_buffer = None;
                false
            }
        };
        float_dispatch!(param.dtype(), T => {
            let c = Coefs::<T> {
                lr: T::of(self.lr),
                gsign: T::of(if self.maximize { -1.0 } else { 1.0 }),
                wd: T::of(self.weight_decay),
                mom: T::of(self.momentum),
                damp: T::of(1.0 - self.dampening),
            };
            let p = param.data_mut::<T>();
            let g = grad.as_slice::<T>().expect("contiguous grad");
            match &mut state.momentum_buffer {
                Some(buf) => kernel_momentum(p, g, buf.data_mut::<T>(), &c, fresh, self.nesterov),
                None => kernel_plain(p, g, &c),
            }
        });
    }
}

struct Coefs<T> {
    lr: T,
    gsign: T,
    wd: T,
    mom: T,
    damp: T,
}

fn kernel_plain<T: FloatElement>(p: &mut [T], g: &[T], c: &Coefs<T>) {
    for (p, &g) in p.iter_mut().zip(g) {
        let d = c.gsign * g + c.wd * *p;
        *p = *p - c.lr * d;
    }
}

fn kernel_momentum<T: FloatElement>(
    p: &mut [T],
    g: &[T],
    buf: &mut [T],
    c: &Coefs<T>,
    fresh: bool,
    nesterov: bool,
) {
    // `fresh`: PyTorch initializes the buffer to the first gradient (no dampening).
    let (keep, take) = if fresh {
        (T::zero(), T::one())
    } else {
        (c.mom, c.damp)
    };
    for ((p, &g), b) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
        let d = c.gsign * g + c.wd * *p;
        let nb = keep * *b + take * d;
        *b = nb;
        let step = if nesterov { d + c.mom * nb } else { nb };
        *p = *p - c.lr * step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{quadratic_run, roundtrip};

    #[test]
    fn defaults_match_pytorch() {
        let d = SgdConfig::default();
        assert_eq!(
            (d.lr, d.momentum, d.dampening, d.weight_decay),
            (1e-3, 0.0, 0.0, 0.0)
        );
        assert!(!d.nesterov && !d.maximize && !d.differentiable);
    }

    #[test]
    fn validation_names_fields() {
        let e = SgdConfig {
            lr: -1.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "SGD.lr: must be a finite number >= 0, got -1"
        );
        let e = SgdConfig {
            nesterov: true,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("SGD.nesterov: requires momentum > 0"),
            "{e}"
        );
        let e = SgdConfig {
            differentiable: true,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("SGD.differentiable"), "{e}");
    }

    #[test]
    fn serde_round_trip() {
        roundtrip(&SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            nesterov: true,
            ..Default::default()
        });
    }

    #[test]
    fn plain_sgd_one_step_is_closed_form() {
        // p = 1, g = 2 (quadratic helper: g = p - 0 scaled by 2), lr 0.1 -> p = 1 - 0.2
        let p = quadratic_run(
            &SgdConfig {
                lr: 0.1,
                ..Default::default()
            },
            1,
        );
        assert!((p - 0.8).abs() < 1e-12, "{p}");
    }
}
