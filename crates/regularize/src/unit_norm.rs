//! [`UnitNorm`]: rescales each output unit's incoming weights to L2 norm 1 (Keras
//! `UnitNorm`).
//!
//! Each slice along `dim` (default 0: one per output unit in PyTorch's `[out, in, ...]`
//! weight layout) is divided by `max(‖slice‖₂, 1e-12)`, as
//! `torch.nn.functional.normalize(w.flatten(1), p=2, dim=1, eps=1e-12)` does for `dim = 0`
//! (`F.normalize`'s `dim` names the reduced dim; Tuna's names the kept one, as in
//! [`MaxNorm`](crate::MaxNorm)). An all-zero slice stays zero. Keras divides by
//! `1e-7 + ‖slice‖` instead, leaving norms a hair below 1.

use serde::{Deserialize, Serialize};
use tuna_tensor::Tensor;

use crate::constraint::{check_float, rescale_slices, resolve_dim, Constraint};
use crate::error::RegularizeError;
use crate::selection::{default_params, is_selected, validate_selection};

/// Unit-norm constraint: every slice along `dim` is rescaled to L2 norm 1.
///
/// ```toml
/// [[constraints]]
/// type = "UnitNorm"
/// params = ["embedding.weight"]
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnitNorm {
    /// The dim indexing the normalized slices; negative counts from the end. Default `0`: one
    /// slice per output unit (per embedding row for `Embedding.weight`).
    pub dim: isize,
    /// Glob patterns of the parameter names to constrain. Default `["*weight"]`.
    pub params: Vec<String>,
    /// Glob patterns of names to leave out even if `params` matches them. Default `[]`.
    pub exclude: Vec<String>,
}

impl Default for UnitNorm {
    fn default() -> Self {
        UnitNorm {
            dim: 0,
            params: default_params(),
            exclude: Vec::new(),
        }
    }
}

/// `F.normalize`'s epsilon.
const EPS: f64 = 1e-12;

#[typetag::serde(name = "UnitNorm")]
impl Constraint for UnitNorm {
    fn validate(&self) -> Result<(), RegularizeError> {
        validate_selection("UnitNorm", &self.params, &self.exclude)
    }

    fn selects(&self, name: &str) -> bool {
        is_selected(&self.params, &self.exclude, name)
    }

    fn check(&self, name: &str, value: &Tensor) -> Result<(), RegularizeError> {
        check_float("UnitNorm", name, value)?;
        resolve_dim("UnitNorm", name, value, self.dim).map(|_| ())
    }

    fn project(&self, value: &mut Tensor) {
        let dim = resolve_dim("UnitNorm", "", value, self.dim).unwrap_or_else(|e| panic!("{e}"));
        rescale_slices(value, dim, |n| (n != 1.0).then(|| 1.0 / n.max(EPS)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constraint::slice_norms;
    use tuna_autograd::Param;

    #[test]
    fn validation() {
        assert!(UnitNorm::default().validate().is_ok());
        let e = UnitNorm {
            params: vec![],
            ..UnitNorm::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("UnitNorm.params:"), "{e}");
    }

    #[test]
    fn serde_round_trips() {
        let c: Box<dyn Constraint> = Box::new(UnitNorm {
            dim: 1,
            ..UnitNorm::default()
        });
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            json,
            r#"{"type":"UnitNorm","dim":1,"params":["*weight"],"exclude":[]}"#
        );
        let back: Box<dyn Constraint> = serde_json::from_str(&json).unwrap();
        assert_eq!(format!("{back:?}"), format!("{c:?}"));
        let back: Box<dyn Constraint> = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(format!("{back:?}"), format!("{c:?}"));
    }

    #[test]
    fn rows_to_unit_norm_zero_rows_stay_zero() {
        let w = Param::new(Tensor::from_vec(
            vec![3.0f32, 4.0, 0.0, 0.0, 0.06, -0.08],
            &[3, 2],
        ));
        UnitNorm::default()
            .apply(&[("fc.weight".to_string(), w.clone())])
            .unwrap();
        let got = w.value().to_vec::<f32>();
        let want = [0.6f32, 0.8, 0.0, 0.0, 0.6, -0.8];
        for (g, e) in got.iter().zip(want) {
            assert!((g - e).abs() < 1e-6, "{got:?}");
        }
        let n = slice_norms(&w.value(), 0);
        assert!((n[0] - 1.0).abs() < 1e-6 && n[1] == 0.0 && (n[2] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn negative_dim() {
        // dim = -1 on [2, 2]: columns [1, 0] stays, [2, 2] → [1/√2, 1/√2]
        let w = Param::new(Tensor::from_vec(vec![1.0f64, 2.0, 0.0, 2.0], &[2, 2]));
        UnitNorm {
            dim: -1,
            ..UnitNorm::default()
        }
        .apply(&[("x.weight".to_string(), w.clone())])
        .unwrap();
        let h = 0.5f64.sqrt();
        let got = w.value().to_vec::<f64>();
        for (g, e) in got.iter().zip([1.0, h, 0.0, h]) {
            assert!((g - e).abs() < 1e-12, "{got:?}");
        }
    }
}
