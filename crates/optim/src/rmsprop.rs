//! RMSprop (Hinton, *Neural Networks for Machine Learning*, lecture 6e), optionally centered
//! (Graves 2013) and with momentum; matches `torch.optim.RMSprop`.
//!
//! ```text
//! g   = ±grad + wd*p
//! sq  = α*sq + (1-α)*g²
//! avg = sqrt(sq - ga²) + eps  with ga = ga + (1-α)(g - ga)   if centered
//!     = sqrt(sq) + eps                                        otherwise
//! buf = momentum*buf + g/avg;  p = p - lr*buf                 if momentum > 0
//! p   = p - lr * g/avg                                        otherwise
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

/// Config of [`RmsProp`] (`type = "RMSprop"`); fields and defaults are
/// `torch.optim.RMSprop`'s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RmsPropConfig {
    /// `lr`, default 1e-2.
    pub lr: f64,
    /// `alpha` (smoothing constant), default 0.99.
    pub alpha: f64,
    /// `eps`, default 1e-8.
    pub eps: f64,
    /// `weight_decay` (L2), default 0.
    pub weight_decay: f64,
    /// `momentum`, default 0.
    pub momentum: f64,
    /// `centered`, default false.
    pub centered: bool,
    /// `capturable` (accepted, no effect), default false.
    pub capturable: bool,
    /// `foreach` (accepted, no effect), default null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreach: Option<bool>,
    /// `maximize`, default false.
    pub maximize: bool,
    /// `differentiable`, default false; `true` is rejected.
    pub differentiable: bool,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            capturable: false,
            foreach: None,
            maximize: false,
            differentiable: false,
        }
    }
}

/// The runtime RMSprop optimizer.
pub type RmsProp = GroupedOptimizer<RmsPropConfig>;

/// RMSprop's state of one parameter.
#[derive(Clone, Debug)]
pub struct RmsPropState {
    /// Updates applied.
    pub step: u64,
    /// Running average of the squared gradient (`square_avg`).
    pub square_avg: Tensor,
    /// Momentum buffer (`momentum_buffer`, with `momentum > 0`).
    pub momentum_buffer: Option<Tensor>,
    /// Running average of the gradient (`grad_avg`, when `centered`).
    pub grad_avg: Option<Tensor>,
}

impl RuleState for RmsPropState {
    fn step(&self) -> u64 {
        self.step
    }

    fn to_record(&self) -> StateRecord {
        StateRecord::new(self.step)
            .with("square_avg", &self.square_avg)
            .with_optional("momentum_buffer", self.momentum_buffer.as_ref())
            .with_optional("grad_avg", self.grad_avg.as_ref())
    }

    fn from_record(mut r: StateRecord) -> Result<Self, OptimError> {
        Ok(RmsPropState {
            step: r.step,
            square_avg: r.tensor("square_avg")?,
            momentum_buffer: r.optional_tensor("momentum_buffer"),
            grad_avg: r.optional_tensor("grad_avg"),
        })
    }
}

#[typetag::serde(name = "RMSprop")]
impl OptimizerConfig for RmsPropConfig {
    fn validate(&self) -> Result<(), OptimError> {
        let t = self.name();
        non_negative(t, "lr", self.lr)?;
        non_negative(t, "alpha", self.alpha)?;
        non_negative(t, "eps", self.eps)?;
        non_negative(t, "weight_decay", self.weight_decay)?;
        non_negative(t, "momentum", self.momentum)?;
        torch_flags(t, self.differentiable)
    }

    fn build(
        &self,
        params: Vec<NamedParam>,
        groups: &[ParamGroupConfig],
    ) -> Result<Box<dyn Optimizer>, OptimError> {
        Ok(Box::new(RmsProp::new(self, params, groups)?))
    }
}

impl UpdateRule for RmsPropConfig {
    hyper_accessors!(lr, momentum = momentum);

    type State = RmsPropState;

    fn init_state(&self, param: &Tensor) -> RmsPropState {
        RmsPropState {
            step: 0,
            square_avg: param.zeros_like(),
            momentum_buffer: (self.momentum > 0.0).then(|| param.zeros_like()),
            grad_avg: self.centered.then(|| param.zeros_like()),
        }
    }

    fn update(&self, param: &mut Tensor, grad: &Tensor, state: &mut RmsPropState) {
        state.step += 1;
        // Buffers follow the current settings (momentum may be switched on by a schedule).
        if self.momentum > 0.0 {
            state
                .momentum_buffer
                .get_or_insert_with(|| param.zeros_like());
        } else {
            state.momentum_buffer = None;
        }
        if self.centered {
            state.grad_avg.get_or_insert_with(|| param.zeros_like());
        } else {
            state.grad_avg = None;
        }
        let RmsPropState {
            square_avg: sq,
            momentum_buffer: buf,
            grad_avg: ga,
            ..
        } = state;
        float_dispatch!(param.dtype(), T => {
            let c = [
                T::of(if self.maximize { -1.0 } else { 1.0 }),
                T::of(self.weight_decay),
                T::of(self.alpha),
                T::of(1.0 - self.alpha),
                T::of(self.eps),
                T::of(self.momentum),
                T::of(self.lr),
            ];
            let p = param.data_mut::<T>();
            let g = grad.as_slice::<T>().expect("contiguous grad");
            let sq = sq.data_mut::<T>();
            let buf = buf.as_mut().map(|b| b.data_mut::<T>());
            let ga = ga.as_mut().map(|a| a.data_mut::<T>());
            kernel(p, g, sq, buf, ga, c);
        });
    }
}

fn kernel<T: FloatElement>(
    p: &mut [T],
    g: &[T],
    sq: &mut [T],
    buf: Option<&mut [T]>,
    ga: Option<&mut [T]>,
    [gsign, wd, alpha, one_minus_alpha, eps, mom, lr]: [T; 7],
) {
    let n = p.len();
    let mut dummy_b: [T; 0] = [];
    let mut dummy_g: [T; 0] = [];
    let (has_b, buf) = match buf {
        Some(b) => (true, b),
        None => (false, &mut dummy_b[..]),
    };
    let (has_g, ga) = match ga {
        Some(a) => (true, a),
        None => (false, &mut dummy_g[..]),
    };
    for i in 0..n {
        let gi = gsign * g[i] + wd * p[i];
        let s = alpha * sq[i] + one_minus_alpha * (gi * gi);
        sq[i] = s;
        let avg = if has_g {
            let a = ga[i] + one_minus_alpha * (gi - ga[i]);
            ga[i] = a;
            (s - a * a).sqrt() + eps
        } else {
            s.sqrt() + eps
        };
        if has_b {
            let b = mom * buf[i] + gi / avg;
            buf[i] = b;
            p[i] = p[i] - lr * b;
        } else {
            p[i] = p[i] - lr * (gi / avg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{quadratic_run, roundtrip};

    #[test]
    fn defaults_match_pytorch() {
        let d = RmsPropConfig::default();
        assert_eq!(
            (d.lr, d.alpha, d.eps, d.weight_decay, d.momentum),
            (1e-2, 0.99, 1e-8, 0.0, 0.0)
        );
        assert!(!d.centered && !d.maximize);
    }

    #[test]
    fn validation_names_fields() {
        let e = RmsPropConfig {
            alpha: -0.5,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("RMSprop.alpha:"), "{e}");
    }

    #[test]
    fn serde_round_trip() {
        roundtrip(&RmsPropConfig {
            centered: true,
            momentum: 0.9,
            ..Default::default()
        });
    }

    #[test]
    fn first_step_closed_form() {
        // sq = 0.01 * 4; p = 1 - lr * 2 / (sqrt(0.04) + eps) = 1 - 0.1 * 10
        let p = quadratic_run(
            &RmsPropConfig {
                lr: 0.1,
                eps: 0.0,
                ..Default::default()
            },
            1,
        );
        assert!((p - 0.0).abs() < 1e-12, "{p}");
    }
}
