//! [`ElasticNet`]: `l1_weight · Σ|w| + l2_weight · Σw²` (Zou & Hastie, 2005).
//!
//! Same as Keras' `regularizers.L1L2(l1=l1_weight, l2=l2_weight)`. The two coefficients are
//! independent; scikit-learn's `(alpha, l1_ratio)` parametrization, whose penalty is
//! `alpha·l1_ratio·Σ|w| + ½·alpha·(1 − l1_ratio)·Σw²`, maps to
//! `l1_weight = alpha·l1_ratio`, `l2_weight = alpha·(1 − l1_ratio)/2`
//! ([`ElasticNet::from_alpha_l1_ratio`]). The L2 part follows [`L2`](crate::L2)'s convention
//! (no ½: its gradient is `2·l2_weight·w`).

use serde::{Deserialize, Serialize};
use tuna_autograd::{NamedParam, Tape, Var};

use crate::error::{check_non_negative, RegularizeError};
use crate::regularizer::{sum_selected, sum_selected_values, Regularizer};
use crate::selection::{default_params, is_selected, validate_selection};

/// Elastic-net penalty `l1_weight · Σ|w| + l2_weight · Σw²` over the selected parameters;
/// gradient `l1_weight · sign(w) + 2 · l2_weight · w`.
///
/// ```toml
/// [[regularizers]]
/// type = "ElasticNet"
/// l1_weight = 1e-5
/// l2_weight = 1e-4
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ElasticNet {
    /// Coefficient of `Σ|w|` (Keras `l1`); `>= 0`. Default `0.01` (Keras `l1_l2()`).
    pub l1_weight: f64,
    /// Coefficient of `Σw²` (Keras `l2`); `>= 0`. Default `0.01` (Keras `l1_l2()`).
    pub l2_weight: f64,
    /// Glob patterns of the parameter names to penalize. Default `["*weight"]`.
    pub params: Vec<String>,
    /// Glob patterns of names to leave out even if `params` matches them. Default `[]`.
    pub exclude: Vec<String>,
}

impl Default for ElasticNet {
    fn default() -> Self {
        ElasticNet {
            l1_weight: 0.01,
            l2_weight: 0.01,
            params: default_params(),
            exclude: Vec::new(),
        }
    }
}

impl ElasticNet {
    /// An elastic net with the given coefficients on the default selection (`*weight`).
    pub fn new(l1_weight: f64, l2_weight: f64) -> Self {
        ElasticNet {
            l1_weight,
            l2_weight,
            ..Self::default()
        }
    }

    /// From scikit-learn's parametrization (`ElasticNet(alpha, l1_ratio)`, penalty
    /// `alpha·l1_ratio·‖w‖₁ + ½·alpha·(1 − l1_ratio)·‖w‖₂²`).
    ///
    /// ```
    /// use tuna_regularize::ElasticNet;
    /// let e = ElasticNet::from_alpha_l1_ratio(1.0, 0.5);
    /// assert_eq!((e.l1_weight, e.l2_weight), (0.5, 0.25));
    /// ```
    pub fn from_alpha_l1_ratio(alpha: f64, l1_ratio: f64) -> Self {
        Self::new(alpha * l1_ratio, 0.5 * alpha * (1.0 - l1_ratio))
    }
}

#[typetag::serde(name = "ElasticNet")]
impl Regularizer for ElasticNet {
    fn validate(&self) -> Result<(), RegularizeError> {
        check_non_negative("ElasticNet", "l1_weight", self.l1_weight)?;
        check_non_negative("ElasticNet", "l2_weight", self.l2_weight)?;
        validate_selection("ElasticNet", &self.params, &self.exclude)
    }

    fn selects(&self, name: &str) -> bool {
        is_selected(&self.params, &self.exclude, name)
    }

    fn penalty<'t>(&self, _tape: &'t Tape, params: &[(String, Var<'t>)]) -> Option<Var<'t>> {
        let (a, b) = (self.l1_weight, self.l2_weight);
        let l1 = (a != 0.0)
            .then(|| sum_selected(params, |n| self.selects(n), |v| v.abs().sum()))
            .flatten()
            .map(|s| s.mul_scalar(a));
        let l2 = (b != 0.0)
            .then(|| sum_selected(params, |n| self.selects(n), |v| v.square().sum()))
            .flatten()
            .map(|s| s.mul_scalar(b));
        match (l1, l2) {
            (Some(x), Some(y)) => Some(x.add(y)),
            (x, y) => x.or(y),
        }
    }

    fn value(&self, params: &[NamedParam]) -> f64 {
        let (a, b) = (self.l1_weight, self.l2_weight);
        sum_selected_values(params, |n| self.selects(n), |x| a * x.abs() + b * x * x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tuna_autograd::gradcheck::gradcheck;
    use tuna_autograd::Param;
    use tuna_tensor::Tensor;

    #[test]
    fn validation() {
        assert!(ElasticNet::default().validate().is_ok());
        let e = ElasticNet::new(-1.0, 0.0).validate().unwrap_err();
        assert_eq!(e.to_string(), "ElasticNet.l1_weight: must be >= 0, got -1");
        let e = ElasticNet::new(0.0, -0.5).validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "ElasticNet.l2_weight: must be >= 0, got -0.5"
        );
    }

    #[test]
    fn serde_round_trips() {
        let r: Box<dyn Regularizer> = Box::new(ElasticNet::new(1e-5, 1e-4));
        let json = serde_json::to_string(&r).unwrap();
        let back: Box<dyn Regularizer> = serde_json::from_str(&json).unwrap();
        assert_eq!(format!("{back:?}"), format!("{r:?}"));
        let toml_text = toml::to_string(&r).unwrap();
        let back: Box<dyn Regularizer> = toml::from_str(&toml_text).unwrap();
        assert_eq!(format!("{back:?}"), format!("{r:?}"));
        let e =
            serde_json::from_str::<Box<dyn Regularizer>>(r#"{"type":"ElasticNet","l1_ratio":0.5}"#)
                .unwrap_err()
                .to_string();
        assert!(e.contains("unknown field `l1_ratio`"), "{e}");
    }

    #[test]
    fn value_and_gradient_closed_form() {
        let w = vec![1.0f32, -2.0, 0.5];
        let params = vec![(
            "w.weight".to_string(),
            Param::new(Tensor::from_vec(w.clone(), &[3])),
        )];
        let reg = ElasticNet::new(0.1, 0.2);
        // 0.1·3.5 + 0.2·5.25
        assert!((reg.value(&params) - 1.4).abs() < 1e-12);
        let tape = Tape::new();
        let p = reg.penalty_for_params(&tape, &params).unwrap();
        assert!((p.item() - 1.4).abs() < 1e-6);
        p.backward();
        drop(tape);
        let g = params[0].1.grad().unwrap().to_vec::<f32>();
        for (gi, wi) in g.iter().zip(&w) {
            let want = 0.1 * wi.signum() + 0.4 * wi;
            assert!((gi - want).abs() < 1e-6, "{g:?}");
        }
        // one part zero: only the other is recorded
        let tape = Tape::new();
        let only_l2 = ElasticNet::new(0.0, 0.2)
            .penalty_for_params(&tape, &params)
            .unwrap();
        assert!((only_l2.item() - 1.05).abs() < 1e-6);
        assert!(ElasticNet::new(0.0, 0.0)
            .penalty_for_params(&tape, &params)
            .is_none());
    }

    #[test]
    fn gradcheck_f64() {
        let reg = ElasticNet::new(0.3, 0.7);
        let x = Tensor::from_vec(vec![0.7f64, -1.3, 2.1, -0.4], &[2, 2]);
        gradcheck(
            |tape, v| {
                reg.penalty(tape, &[("x.weight".to_string(), v[0])])
                    .unwrap()
            },
            &[x],
        )
        .unwrap();
    }
}
