//! Lion, EvoLved Sign Momentum (Chen et al. 2023, *Symbolic Discovery of Optimization
//! Algorithms*, Alg. 2); identical to the authors' `lion-pytorch`. Not in PyTorch.
//!
//! ```text
//! c = β1*m + (1-β1)*g
//! p = p*(1 - lr*wd) - lr*sign(c)        (sign(0) = 0)
//! m = β2*m + (1-β2)*g
//! ```

use serde::{Deserialize, Serialize};
use tuna_autograd::NamedParam;
use tuna_tensor::{FloatElement, Tensor};

use crate::config::{OptimizerConfig, ParamGroupConfig};
use crate::error::{non_negative, unit_closed, OptimError};
use crate::optimizer::{
    float_dispatch, hyper_accessors, GroupedOptimizer, Optimizer, RuleState, StateRecord,
    UpdateRule,
};
use crate::rprop::sign;

/// Config of [`Lion`] (`type = "Lion"`); fields and defaults are `lion-pytorch`'s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LionConfig {
    /// `lr`, default 1e-4 (typically 3-10x smaller than AdamW's).
    pub lr: f64,
    /// `betas` (β1 interpolation for the update, β2 for the momentum), default (0.9, 0.99).
    pub betas: (f64, f64),
    /// `weight_decay` (decoupled), default 0.
    pub weight_decay: f64,
}

impl Default for LionConfig {
    fn default() -> Self {
        LionConfig {
            lr: 1e-4,
            betas: (0.9, 0.99),
            weight_decay: 0.0,
        }
    }
}

/// The runtime Lion optimizer.
pub type Lion = GroupedOptimizer<LionConfig>;

/// Lion's state of one parameter.
#[derive(Clone, Debug)]
pub struct LionState {
    /// Updates applied.
    pub step: u64,
    /// First moment estimate (PyTorch `exp_avg`).
    pub exp_avg: Tensor,
}

impl RuleState for LionState {
    fn step(&self) -> u64 {
        self.step
    }

    fn to_record(&self) -> StateRecord {
        StateRecord::new(self.step).with("exp_avg", &self.exp_avg)
    }

    fn from_record(mut r: StateRecord) -> Result<Self, OptimError> {
        Ok(LionState {
            step: r.step,
            exp_avg: r.tensor("exp_avg")?,
        })
    }
}

#[typetag::serde(name = "Lion")]
impl OptimizerConfig for LionConfig {
    fn validate(&self) -> Result<(), OptimError> {
        let t = self.name();
        non_negative(t, "lr", self.lr)?;
        unit_closed(t, "betas[0]", self.betas.0)?;
        unit_closed(t, "betas[1]", self.betas.1)?;
        non_negative(t, "weight_decay", self.weight_decay)
    }

    fn build(
        &self,
        params: Vec<NamedParam>,
        groups: &[ParamGroupConfig],
    ) -> Result<Box<dyn Optimizer>, OptimError> {
        Ok(Box::new(Lion::new(self, params, groups)?))
    }
}

impl UpdateRule for LionConfig {
    hyper_accessors!(lr, momentum = betas.0);

    type State = LionState;

    fn init_state(&self, param: &Tensor) -> LionState {
        LionState {
            step: 0,
            exp_avg: param.zeros_like(),
        }
    }

    fn update(&self, param: &mut Tensor, grad: &Tensor, state: &mut LionState) {
        state.step += 1;
        let m = &mut state.exp_avg;
        float_dispatch!(param.dtype(), T => {
            let (b1, b2) = self.betas;
            let c = [
                T::of(1.0 - self.lr * self.weight_decay),
                T::of(self.lr),
                T::of(b1),
                T::of(1.0 - b1),
                T::of(b2),
                T::of(1.0 - b2),
            ];
            kernel(
                param.data_mut::<T>(),
                grad.as_slice::<T>().expect("contiguous grad"),
                m.data_mut::<T>(),
                c,
            );
        });
    }
}

fn kernel<T: FloatElement>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    [decay, lr, b1, omb1, b2, omb2]: [T; 6],
) {
    let n = p.len();
    let (g, m) = (&g[..n], &mut m[..n]);
    for i in 0..n {
        let c = b1 * m[i] + omb1 * g[i];
        p[i] = p[i] * decay - lr * sign(c);
        m[i] = b2 * m[i] + omb2 * g[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{quadratic_run, roundtrip};

    #[test]
    fn defaults() {
        let d = LionConfig::default();
        assert_eq!((d.lr, d.betas, d.weight_decay), (1e-4, (0.9, 0.99), 0.0));
    }

    #[test]
    fn validation_names_fields() {
        let e = LionConfig {
            betas: (0.9, 1.1),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.to_string(), "Lion.betas[1]: must be in [0, 1], got 1.1");
    }

    #[test]
    fn serde_round_trip() {
        roundtrip(&LionConfig {
            weight_decay: 0.1,
            ..Default::default()
        });
    }

    #[test]
    fn steps_are_lr_sized() {
        let p = quadratic_run(
            &LionConfig {
                lr: 0.125,
                ..Default::default()
            },
            2,
        );
        assert_eq!(p, 0.75);
    }
}
