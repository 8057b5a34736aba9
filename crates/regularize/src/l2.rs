//! [`L2`]: the ridge / weight-decay penalty `weight · Σw²` (Keras convention, no ½).
//!
//! Same as Keras' `regularizers.L2(l2=weight)`; PyTorch has no class for it (one writes
//! `loss + weight * sum(p.pow(2).sum() for p in params)`).
//!
//! **Factor convention.** The penalty is `weight · Σw²`, *without* a ½, so its gradient is
//! `2 · weight · w`. PyTorch's `SGD(weight_decay=λ)` adds `λ · w` to the gradient, which is
//! the gradient of `(λ/2) · Σw²`. Hence, for plain SGD (with or without momentum),
//!
//! ```text
//! L2 { weight }  ≡  SGD(weight_decay = 2 · weight)      i.e.  weight = weight_decay / 2
//! ```
//!
//! ([`L2::from_weight_decay`] and [`L2::equivalent_weight_decay`] convert). For Adam and other
//! adaptive optimizers the two are *not* equivalent: the penalty's gradient is rescaled by the
//! adaptive denominator, decoupled decay (`AdamW`) is not (Loshchilov & Hutter, 2019).

use serde::{Deserialize, Serialize};
use tuna_autograd::{NamedParam, Tape, Var};

use crate::error::{check_non_negative, RegularizeError};
use crate::regularizer::{sum_selected, sum_selected_values, Regularizer};
use crate::selection::{default_params, is_selected, validate_selection};

/// L2 penalty `weight · Σ_selected Σ_i w_i²` (Keras `L2(l2=weight)`); gradient
/// `2 · weight · w`.
///
/// **Factor convention: no ½.** PyTorch's `SGD(weight_decay=λ)` adds `λ·w` to the gradient,
/// the gradient of `(λ/2)·Σw²`. So for SGD (with or without momentum, not for Adam & co.)
/// `L2 { weight }` is exactly `weight_decay = 2 · weight`; [`L2::from_weight_decay`] and
/// [`L2::equivalent_weight_decay`] convert.
///
/// ```toml
/// [[regularizers]]
/// type = "L2"
/// weight = 1e-4
/// exclude = ["*norm*"]
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct L2 {
    /// Penalty coefficient (Keras `l2`); `>= 0`. Default `0.01` (Keras' default).
    pub weight: f64,
    /// Glob patterns of the parameter names to penalize. Default `["*weight"]`.
    pub params: Vec<String>,
    /// Glob patterns of names to leave out even if `params` matches them. Default `[]`.
    pub exclude: Vec<String>,
}

impl Default for L2 {
    fn default() -> Self {
        L2 {
            weight: 0.01,
            params: default_params(),
            exclude: Vec::new(),
        }
    }
}

impl L2 {
    /// An L2 penalty with coefficient `weight` on the default selection (`*weight`).
    pub fn new(weight: f64) -> Self {
        L2 {
            weight,
            ..Self::default()
        }
    }

    /// The L2 penalty whose gradient equals SGD's `weight_decay` term `λ·w`:
    /// `weight = weight_decay / 2`.
    ///
    /// ```
    /// use tuna_regularize::L2;
    /// assert_eq!(L2::from_weight_decay(5e-4).weight, 2.5e-4);
    /// ```
    pub fn from_weight_decay(weight_decay: f64) -> Self {
        Self::new(weight_decay / 2.0)
    }

    /// The SGD `weight_decay` with the same gradient: `2 · weight`.
    pub fn equivalent_weight_decay(&self) -> f64 {
        2.0 * self.weight
    }
}

#[typetag::serde(name = "L2")]
impl Regularizer for L2 {
    fn validate(&self) -> Result<(), RegularizeError> {
        check_non_negative("L2", "weight", self.weight)?;
        validate_selection("L2", &self.params, &self.exclude)
    }

    fn selects(&self, name: &str) -> bool {
        is_selected(&self.params, &self.exclude, name)
    }

    fn penalty<'t>(&self, _tape: &'t Tape, params: &[(String, Var<'t>)]) -> Option<Var<'t>> {
        if self.weight == 0.0 {
            return None;
        }
        sum_selected(params, |n| self.selects(n), |v| v.square().sum())
            .map(|s| s.mul_scalar(self.weight))
    }

    fn value(&self, params: &[NamedParam]) -> f64 {
        self.weight * sum_selected_values(params, |n| self.selects(n), |x| x * x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tuna_autograd::gradcheck::gradcheck;
    use tuna_autograd::Param;
    use tuna_tensor::Tensor;

    fn named(name: &str, data: Vec<f32>, shape: &[usize]) -> NamedParam {
        (name.to_string(), Param::new(Tensor::from_vec(data, shape)))
    }

    #[test]
    fn validation() {
        assert!(L2::default().validate().is_ok());
        let e = L2::new(-1.0).validate().unwrap_err();
        assert_eq!(e.to_string(), "L2.weight: must be >= 0, got -1");
        let e = L2::new(f64::NAN).validate().unwrap_err();
        assert_eq!(e.to_string(), "L2.weight: must be >= 0, got NaN");
    }

    #[test]
    fn serde_round_trips() {
        let r: Box<dyn Regularizer> = Box::new(L2 {
            weight: 1e-4,
            params: vec!["*".into()],
            exclude: vec!["*norm*".into(), "*.bias".into()],
        });
        let json = serde_json::to_string(&r).unwrap();
        let back: Box<dyn Regularizer> = serde_json::from_str(&json).unwrap();
        assert_eq!(format!("{back:?}"), format!("{r:?}"));
        let toml_text = toml::to_string(&r).unwrap();
        let back: Box<dyn Regularizer> = toml::from_str(&toml_text).unwrap();
        assert_eq!(format!("{back:?}"), format!("{r:?}"));
        let d: Box<dyn Regularizer> = toml::from_str("weight = 0.5\ntype = \"L2\"").unwrap();
        assert_eq!(format!("{d:?}"), format!("{:?}", L2::new(0.5)));
        let e = toml::from_str::<Box<dyn Regularizer>>("type = \"L2\"\nweight_decay = 0.1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `weight_decay`"), "{e}");
    }

    #[test]
    fn value_and_gradient_closed_form() {
        let params = vec![
            named("fc1.weight", vec![1.0, -2.0, 0.5, 3.0], &[2, 2]),
            named("fc1.bias", vec![3.0, -4.0], &[2]),
            named("fc2.weight", vec![-1.5], &[1, 1]),
        ];
        let reg = L2::new(0.1);
        // 0.1 · (1 + 4 + 0.25 + 9 + 2.25)
        assert!((reg.value(&params) - 1.65).abs() < 1e-12);
        let tape = Tape::new();
        let p = reg.penalty_for_params(&tape, &params).unwrap();
        assert!((p.item() - 1.65).abs() < 1e-6);
        p.backward();
        drop(tape);
        // gradient 2·weight·w
        let g = params[0].1.grad().unwrap().to_vec::<f32>();
        let want = [0.2f32, -0.4, 0.1, 0.6];
        for (a, b) in g.iter().zip(want) {
            assert!((a - b).abs() < 1e-7, "{g:?}");
        }
        assert!((params[2].1.grad().unwrap().item() + 0.3).abs() < 1e-7);
        assert!(params[1].1.grad().is_none());
    }

    #[test]
    fn gradient_equals_sgd_weight_decay_term() {
        let w = vec![0.3f32, -0.7, 1.1];
        let params = vec![named("w.weight", w.clone(), &[3])];
        let wd = 5e-4;
        let tape = Tape::new();
        L2::from_weight_decay(wd)
            .penalty_for_params(&tape, &params)
            .unwrap()
            .backward();
        drop(tape);
        let g = params[0].1.grad().unwrap().to_vec::<f32>();
        for (gi, wi) in g.iter().zip(&w) {
            assert!((gi - wd as f32 * wi).abs() < 1e-10);
        }
        assert_eq!(L2::new(1e-4).equivalent_weight_decay(), 2e-4);
    }

    #[test]
    fn exclude_wins_over_params() {
        let params = vec![
            named("enc.norm1.weight", vec![2.0], &[1]),
            named("enc.linear.weight", vec![1.0], &[1]),
        ];
        let reg = L2 {
            weight: 1.0,
            exclude: vec!["*norm*".into()],
            ..L2::default()
        };
        assert_eq!(reg.value(&params), 1.0);
    }

    #[test]
    fn gradcheck_f64() {
        let reg = L2 {
            weight: 0.7,
            params: vec!["*".into()],
            exclude: vec![],
        };
        let a = Tensor::from_vec(vec![0.7f64, -1.3, 2.1, -0.4, 0.9, -2.2], &[2, 3]);
        let b = Tensor::from_vec(vec![0.2f64, -0.6], &[2]);
        gradcheck(
            |tape, v| {
                reg.penalty(tape, &[("a".to_string(), v[0]), ("b".to_string(), v[1])])
                    .unwrap()
            },
            &[a, b],
        )
        .unwrap();
    }
}
