//! [`L1`]: the lasso penalty `weight · Σ|w|`, which drives weights to exactly zero.
//!
//! Same as Keras' `regularizers.L1(l1=weight)`; PyTorch has no class for it (one writes
//! `loss + weight * sum(p.abs().sum() for p in params)`).

use serde::{Deserialize, Serialize};
use tuna_autograd::{NamedParam, Tape, Var};

use crate::error::{check_non_negative, RegularizeError};
use crate::regularizer::{sum_selected, sum_selected_values, Regularizer};
use crate::selection::{default_params, is_selected, validate_selection};

/// L1 penalty `weight · Σ_selected Σ_i |w_i|`; its (sub)gradient is `weight · sign(w)`, with
/// 0 at `w = 0` (PyTorch's `abs` convention).
///
/// ```toml
/// [[regularizers]]
/// type = "L1"
/// weight = 1e-5
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct L1 {
    /// Penalty coefficient (Keras `l1`); `>= 0`. Default `0.01` (Keras' default).
    pub weight: f64,
    /// Glob patterns of the parameter names to penalize. Default `["*weight"]`.
    pub params: Vec<String>,
    /// Glob patterns of names to leave out even if `params` matches them. Default `[]`.
    pub exclude: Vec<String>,
}

impl Default for L1 {
    fn default() -> Self {
        L1 {
            weight: 0.01,
            params: default_params(),
            exclude: Vec::new(),
        }
    }
}

impl L1 {
    /// An L1 penalty with coefficient `weight` on the default selection (`*weight`).
    pub fn new(weight: f64) -> Self {
        L1 {
            weight,
            ..Self::default()
        }
    }
}

#[typetag::serde(name = "L1")]
impl Regularizer for L1 {
    fn validate(&self) -> Result<(), RegularizeError> {
        check_non_negative("L1", "weight", self.weight)?;
        validate_selection("L1", &self.params, &self.exclude)
    }

    fn selects(&self, name: &str) -> bool {
        is_selected(&self.params, &self.exclude, name)
    }

    fn penalty<'t>(&self, _tape: &'t Tape, params: &[(String, Var<'t>)]) -> Option<Var<'t>> {
        if self.weight == 0.0 {
            return None;
        }
        sum_selected(params, |n| self.selects(n), |v| v.abs().sum())
            .map(|s| s.mul_scalar(self.weight))
    }

    fn value(&self, params: &[NamedParam]) -> f64 {
        self.weight * sum_selected_values(params, |n| self.selects(n), f64::abs)
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
        assert!(L1::default().validate().is_ok());
        let e = L1::new(-1.0).validate().unwrap_err();
        assert_eq!(e.to_string(), "L1.weight: must be >= 0, got -1");
        let e = L1 {
            params: vec![],
            ..L1::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("L1.params:"), "{e}");
    }

    #[test]
    fn serde_round_trips() {
        let r: Box<dyn Regularizer> = Box::new(L1 {
            weight: 0.5,
            params: vec!["*".into()],
            exclude: vec!["*.bias".into()],
        });
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"type":"L1","weight":0.5,"params":["*"],"exclude":["*.bias"]}"#
        );
        let back: Box<dyn Regularizer> = serde_json::from_str(&json).unwrap();
        assert_eq!(format!("{back:?}"), format!("{r:?}"));
        let toml_text = toml::to_string(&r).unwrap();
        let back: Box<dyn Regularizer> = toml::from_str(&toml_text).unwrap();
        assert_eq!(format!("{back:?}"), format!("{r:?}"));
        // defaults fill omitted fields
        let d: Box<dyn Regularizer> = toml::from_str("type = \"L1\"").unwrap();
        assert_eq!(format!("{d:?}"), format!("{:?}", L1::default()));
        let e = serde_json::from_str::<Box<dyn Regularizer>>(r#"{"type":"L1","l1":0.1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `l1`"), "{e}");
    }

    #[test]
    fn value_and_gradient() {
        let params = vec![
            named("0.weight", vec![1.0, -2.0, 0.5, 0.0], &[2, 2]),
            named("0.bias", vec![3.0, -4.0], &[2]),
        ];
        let reg = L1::new(0.1);
        // bias not selected by default: 0.1 · (1 + 2 + 0.5 + 0)
        assert!((reg.value(&params) - 0.35).abs() < 1e-12);
        let tape = Tape::new();
        let p = reg.penalty_for_params(&tape, &params).unwrap();
        assert!((p.item() - 0.35).abs() < 1e-6);
        p.backward();
        drop(tape);
        let g = params[0].1.grad().unwrap().to_vec::<f32>();
        assert_eq!(g, vec![0.1, -0.1, 0.1, 0.0]);
        assert!(params[1].1.grad().is_none());
    }

    #[test]
    fn zero_weight_or_no_selection_records_nothing() {
        let params = vec![named("0.bias", vec![1.0], &[1])];
        let tape = Tape::new();
        assert!(L1::new(0.1).penalty_for_params(&tape, &params).is_none());
        let all = vec![named("0.weight", vec![1.0], &[1])];
        assert!(L1::new(0.0).penalty_for_params(&tape, &all).is_none());
        assert_eq!(L1::new(0.0).value(&all), 0.0);
    }

    #[test]
    fn gradcheck_f64() {
        let reg = L1::new(0.3);
        let x = Tensor::from_vec(vec![0.7f64, -1.3, 2.1, -0.4, 0.9, -2.2], &[2, 3]);
        gradcheck(
            |tape, v| {
                reg.penalty(tape, &[("w.weight".to_string(), v[0])])
                    .unwrap()
            },
            &[x],
        )
        .unwrap();
    }
}
