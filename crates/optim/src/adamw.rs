//! AdamW (Loshchilov & Hutter 2019, *Decoupled Weight Decay Regularization*): Adam with the
//! weight decay applied to the parameter (`p *= 1 - lr*wd`) instead of the gradient; matches
//! `torch.optim.AdamW` (whose default `weight_decay` is 0.01). Update: see [`crate::adam`].

use serde::{Deserialize, Serialize};
use tuna_autograd::NamedParam;
use tuna_tensor::Tensor;

use crate::adam::{adam_init, adam_update, check_adam, AdamHyper, AdamState};
use crate::config::{OptimizerConfig, ParamGroupConfig};
use crate::error::OptimError;
use crate::optimizer::{hyper_accessors, GroupedOptimizer, Optimizer, UpdateRule};

/// Config of [`AdamW`] (`type = "AdamW"`); fields and defaults are `torch.optim.AdamW`'s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamWConfig {
    /// `lr`, default 1e-3.
    pub lr: f64,
    /// `betas` (β1, β2), default (0.9, 0.999).
    pub betas: (f64, f64),
    /// `eps`, default 1e-8.
    pub eps: f64,
    /// `weight_decay` (decoupled), default 0.01.
    pub weight_decay: f64,
    /// `amsgrad`, default false.
    pub amsgrad: bool,
    /// `maximize`, default false.
    pub maximize: bool,
    /// `foreach` (accepted, no effect), default null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreach: Option<bool>,
    /// `capturable` (accepted, no effect on CPU), default false.
    pub capturable: bool,
    /// `differentiable`, default false; `true` is rejected.
    pub differentiable: bool,
    /// `fused` (accepted, no effect), default null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fused: Option<bool>,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
            maximize: false,
            foreach: None,
            capturable: false,
            differentiable: false,
            fused: None,
        }
    }
}

/// The runtime AdamW optimizer.
pub type AdamW = GroupedOptimizer<AdamWConfig>;

/// AdamW's state of one parameter: Adam's.
pub type AdamWState = AdamState;

#[typetag::serde(name = "AdamW")]
impl OptimizerConfig for AdamWConfig {
    fn validate(&self) -> Result<(), OptimError> {
        check_adam(self.name(), &self.hyper(), self.differentiable)
    }

    fn build(
        &self,
        params: Vec<NamedParam>,
        groups: &[ParamGroupConfig],
    ) -> Result<Box<dyn Optimizer>, OptimError> {
        Ok(Box::new(AdamW::new(self, params, groups)?))
    }
}

impl AdamWConfig {
    fn hyper(&self) -> AdamHyper {
        AdamHyper {
            lr: self.lr,
            betas: self.betas,
            eps: self.eps,
            weight_decay: self.weight_decay,
            amsgrad: self.amsgrad,
            maximize: self.maximize,
            decoupled: true,
        }
    }
}

impl UpdateRule for AdamWConfig {
    hyper_accessors!(lr, momentum = betas.0);

    type State = AdamState;

    fn init_state(&self, param: &Tensor) -> AdamState {
        adam_init(self.amsgrad, param)
    }

    fn update(&self, param: &mut Tensor, grad: &Tensor, state: &mut AdamState) {
        adam_update(&self.hyper(), param, grad, state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{quadratic_run, roundtrip};
    use crate::AdamConfig;

    #[test]
    fn defaults_match_pytorch() {
        let d = AdamWConfig::default();
        assert_eq!(
            (d.lr, d.betas, d.eps, d.weight_decay),
            (1e-3, (0.9, 0.999), 1e-8, 1e-2)
        );
        assert!(!d.amsgrad && !d.maximize);
    }

    #[test]
    fn validation_names_fields() {
        let e = AdamWConfig {
            weight_decay: -0.1,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("AdamW.weight_decay:"), "{e}");
    }

    #[test]
    fn serde_round_trip() {
        roundtrip(&AdamWConfig {
            amsgrad: true,
            ..Default::default()
        });
    }

    #[test]
    fn equals_adam_with_decoupled_decay() {
        let a = quadratic_run(
            &AdamWConfig {
                lr: 0.1,
                weight_decay: 0.1,
                ..Default::default()
            },
            5,
        );
        let b = quadratic_run(
            &AdamConfig {
                lr: 0.1,
                weight_decay: 0.1,
                decoupled_weight_decay: true,
                ..Default::default()
            },
            5,
        );
        assert_eq!(a, b);
    }
}
