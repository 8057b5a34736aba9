//! LAMB, layer-wise adaptive moments (You et al. 2019, *Large Batch Optimization for Deep
//! Learning: Training BERT in 76 minutes*, Alg. 2). Not in PyTorch. φ is the identity, the
//! trust ratio is not clipped, a "layer" is one parameter tensor, and bias correction follows
//! the paper.
//!
//! ```text
//! m = β1*m + (1-β1)*g;   v = β2*v + (1-β2)*g²
//! u = (m/(1-β1^t)) / (sqrt(v/(1-β2^t)) + eps) + wd*p
//! trust = ‖p‖ / ‖u‖     (1 if either norm is 0)
//! p = p - lr*trust*u
//! ```
//!
//! Two passes over memory (the norms are needed before the update); `u` is never stored.

use serde::{Deserialize, Serialize};
use tuna_autograd::NamedParam;
use tuna_tensor::{FloatElement, Tensor};

use crate::adam::MomentState;
use crate::config::{OptimizerConfig, ParamGroupConfig};
use crate::error::{adam_family, OptimError};
use crate::optimizer::{float_dispatch, hyper_accessors, GroupedOptimizer, Optimizer, UpdateRule};

/// Config of [`Lamb`] (`type = "LAMB"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LambConfig {
    /// `lr`, default 1e-3.
    pub lr: f64,
    /// `betas`, default (0.9, 0.999).
    pub betas: (f64, f64),
    /// `eps`, default 1e-6.
    pub eps: f64,
    /// `weight_decay` (added to the update before the trust ratio), default 0.
    pub weight_decay: f64,
}

impl Default for LambConfig {
    fn default() -> Self {
        LambConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-6,
            weight_decay: 0.0,
        }
    }
}

/// The runtime LAMB optimizer.
pub type Lamb = GroupedOptimizer<LambConfig>;

/// LAMB's state of one parameter: the two moment estimates.
pub type LambState = MomentState;

#[typetag::serde(name = "LAMB")]
impl OptimizerConfig for LambConfig {
    fn validate(&self) -> Result<(), OptimError> {
        let t = self.name();
        adam_family(t, self.lr, self.betas, self.eps, self.weight_decay)
    }

    fn build(
        &self,
        params: Vec<NamedParam>,
        groups: &[ParamGroupConfig],
    ) -> Result<Box<dyn Optimizer>, OptimError> {
        Ok(Box::new(Lamb::new(self, params, groups)?))
    }
}

impl UpdateRule for LambConfig {
    hyper_accessors!(lr, momentum = betas.0);

    type State = MomentState;

    fn init_state(&self, param: &Tensor) -> MomentState {
        MomentState::zeros_like(param)
    }

    fn update(&self, param: &mut Tensor, grad: &Tensor, state: &mut MomentState) {
        state.step += 1;
        let t = state.step as f64;
        let (b1, b2) = self.betas;
        let m = &mut state.exp_avg;
        let v = &mut state.exp_avg_sq;
        float_dispatch!(param.dtype(), T => {
            let c = [
                T::of(b1),
                T::of(1.0 - b1),
                T::of(b2),
                T::of(1.0 - b2),
                T::of(1.0 / (1.0 - b1.powf(t))),
                T::of(1.0 / (1.0 - b2.powf(t))),
                T::of(self.eps),
                T::of(self.weight_decay),
            ];
            kernel(
                param.data_mut::<T>(),
                grad.as_slice::<T>().expect("contiguous grad"),
                m.data_mut::<T>(),
                v.data_mut::<T>(),
                T::of(self.lr),
                c,
            );
        });
    }
}

fn kernel<T: FloatElement>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    lr: T,
    [b1, omb1, b2, omb2, ibc1, ibc2, eps, wd]: [T; 8],
) {
    let n = p.len();
    let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
    let u = |m: T, v: T, p: T| (m * ibc1) / ((v * ibc2).sqrt() + eps) + wd * p;
    // pass 1: moments and both norms, accumulated in f64
    let (mut pn, mut un) = (0.0f64, 0.0f64);
    for i in 0..n {
        let mi = b1 * m[i] + omb1 * g[i];
        let vi = b2 * v[i] + omb2 * (g[i] * g[i]);
        m[i] = mi;
        v[i] = vi;
        let ui = tuna_tensor::Element::to_f64(u(mi, vi, p[i]));
        let pi = tuna_tensor::Element::to_f64(p[i]);
        pn += pi * pi;
        un += ui * ui;
    }
    let (pn, un) = (pn.sqrt(), un.sqrt());
    let trust = if pn > 0.0 && un > 0.0 { pn / un } else { 1.0 };
    let scale = lr * T::of(trust);
    // pass 2: the update
    for i in 0..n {
        p[i] = p[i] - scale * u(m[i], v[i], p[i]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{quadratic_run, roundtrip};

    #[test]
    fn defaults() {
        let d = LambConfig::default();
        assert_eq!(
            (d.lr, d.betas, d.eps, d.weight_decay),
            (1e-3, (0.9, 0.999), 1e-6, 0.0)
        );
    }

    #[test]
    fn validation_names_fields() {
        let e = LambConfig {
            eps: -1.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("LAMB.eps:"), "{e}");
    }

    #[test]
    fn serde_round_trip() {
        roundtrip(&LambConfig {
            weight_decay: 0.01,
            ..Default::default()
        });
    }

    #[test]
    fn first_step_closed_form() {
        // u = g/(|g| + eps) ~ 1, trust = |p| / |u| = 1: p = 1 - lr * 1 * u
        let p = quadratic_run(
            &LambConfig {
                lr: 0.1,
                eps: 0.0,
                ..Default::default()
            },
            1,
        );
        assert!((p - 0.9).abs() < 1e-12, "{p}");
    }
}
