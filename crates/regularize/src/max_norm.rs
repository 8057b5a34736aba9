//! [`MaxNorm`]: caps the L2 norm of each output unit's incoming weights (Keras `MaxNorm`,
//! Srivastava et al. 2014, "Dropout", §5.1).
//!
//! For a weight in PyTorch layout (`Linear`: `[out, in]`, `Conv2d`: `[out, in, kh, kw]`) the
//! default `dim = 0` constrains, for every output unit `i`, the norm of `w[i]` taken over all
//! other dims. A slice whose norm `n` exceeds `max_value` is multiplied by
//! `max_value / (n + 1e-7)`; slices within the bound are left bit-for-bit unchanged. This is
//! exactly `w.copy_(torch.renorm(w, p=2, dim=dim, maxnorm=max_value))`, and Keras'
//! `MaxNorm(max_value, axis=...)` with `axis` = every axis *except* the output one (Keras'
//! `axis` names the reduced axes; Tuna's `dim`, like `torch.renorm`'s, names the kept one).

use serde::{Deserialize, Serialize};
use tuna_tensor::Tensor;

use crate::constraint::{check_float, rescale_slices, resolve_dim, Constraint};
use crate::error::{check_positive, RegularizeError};
use crate::selection::{default_params, is_selected, validate_selection};

/// Max-norm constraint: every slice along `dim` gets L2 norm `<= max_value`
/// (`torch.renorm(w, 2, dim, max_value)`).
///
/// ```toml
/// [[constraints]]
/// type = "MaxNorm"
/// max_value = 3.0
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaxNorm {
    /// The largest allowed norm per slice (Keras `max_value`); `> 0`. Default `2.0` (Keras);
    /// Srivastava et al. report 3–4 works well with dropout.
    pub max_value: f64,
    /// The dim indexing the constrained slices (`torch.renorm`'s `dim`); negative counts from
    /// the end. Default `0`: one slice per output unit in PyTorch's weight layout. For a 1-D
    /// parameter, `dim = 0` caps each element's magnitude.
    pub dim: isize,
    /// Glob patterns of the parameter names to constrain. Default `["*weight"]`.
    pub params: Vec<String>,
    /// Glob patterns of names to leave out even if `params` matches them. Default `[]`.
    pub exclude: Vec<String>,
}

impl Default for MaxNorm {
    fn default() -> Self {
        MaxNorm {
            max_value: 2.0,
            dim: 0,
            params: default_params(),
            exclude: Vec::new(),
        }
    }
}

impl MaxNorm {
    /// A max-norm constraint with bound `max_value` on the default selection and `dim = 0`.
    pub fn new(max_value: f64) -> Self {
        MaxNorm {
            max_value,
            ..Self::default()
        }
    }
}

/// `torch.renorm`'s epsilon.
const EPS: f64 = 1e-7;

#[typetag::serde(name = "MaxNorm")]
impl Constraint for MaxNorm {
    fn validate(&self) -> Result<(), RegularizeError> {
        check_positive("MaxNorm", "max_value", self.max_value)?;
        validate_selection("MaxNorm", &self.params, &self.exclude)
    }

    fn selects(&self, name: &str) -> bool {
        is_selected(&self.params, &self.exclude, name)
    }

    fn check(&self, name: &str, value: &Tensor) -> Result<(), RegularizeError> {
        check_float("MaxNorm", name, value)?;
        resolve_dim("MaxNorm", name, value, self.dim).map(|_| ())
    }

    fn project(&self, value: &mut Tensor) {
        let dim = resolve_dim("MaxNorm", "", value, self.dim).unwrap_or_else(|e| panic!("{e}"));
        let max = self.max_value;
        rescale_slices(value, dim, |n| (n > max).then(|| max / (n + EPS)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constraint::slice_norms;
    use proptest::prelude::*;
    use tuna_autograd::{NamedParam, Param};

    #[test]
    fn validation() {
        assert!(MaxNorm::default().validate().is_ok());
        let e = MaxNorm::new(0.0).validate().unwrap_err();
        assert_eq!(e.to_string(), "MaxNorm.max_value: must be > 0, got 0");
        let e = MaxNorm::new(-3.0).validate().unwrap_err();
        assert_eq!(e.to_string(), "MaxNorm.max_value: must be > 0, got -3");
    }

    #[test]
    fn serde_round_trips() {
        let c: Box<dyn Constraint> = Box::new(MaxNorm {
            max_value: 3.0,
            dim: -1,
            params: vec!["fc*.weight".into()],
            exclude: vec![],
        });
        let json = serde_json::to_string(&c).unwrap();
        let back: Box<dyn Constraint> = serde_json::from_str(&json).unwrap();
        assert_eq!(format!("{back:?}"), format!("{c:?}"));
        let toml_text = toml::to_string(&c).unwrap();
        let back: Box<dyn Constraint> = toml::from_str(&toml_text).unwrap();
        assert_eq!(format!("{back:?}"), format!("{c:?}"));
        let d: Box<dyn Constraint> = toml::from_str("type = \"MaxNorm\"").unwrap();
        assert_eq!(format!("{d:?}"), format!("{:?}", MaxNorm::default()));
        let e = serde_json::from_str::<Box<dyn Constraint>>(r#"{"type":"MaxNorm","axis":0}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `axis`"), "{e}");
    }

    #[test]
    fn rescales_only_rows_above_the_bound() {
        // rows: [3, 4] (norm 5), [0.6, 0.8] (norm 1), [0, 0]
        let w = Param::new(Tensor::from_vec(
            vec![3.0f32, 4.0, 0.6, 0.8, 0.0, 0.0],
            &[3, 2],
        ));
        let b = Param::new(Tensor::from_vec(vec![10.0f32, -10.0], &[2]));
        let params: Vec<NamedParam> = vec![
            ("fc.weight".into(), w.clone()),
            ("fc.bias".into(), b.clone()),
        ];
        MaxNorm::new(2.0).apply(&params).unwrap();
        let got = w.value().to_vec::<f32>();
        // torch.renorm: 2 / (5 + 1e-7)
        let s = (2.0 / (5.0 + 1e-7)) as f32;
        let want = [3.0 * s, 4.0 * s, 0.6, 0.8, 0.0, 0.0];
        for (g, e) in got.iter().zip(want) {
            assert!((g - e).abs() < 1e-6, "{got:?}");
        }
        assert_eq!(got[2..], [0.6, 0.8, 0.0, 0.0]); // untouched exactly
        assert_eq!(b.value().to_vec::<f32>(), vec![10.0, -10.0]); // not selected
    }

    #[test]
    fn conv_weight_norm_over_all_other_dims_and_dim_1() {
        // [2, 1, 2, 2]: unit 0 has norm 4 (all 2s), unit 1 norm 0.4
        let mut data = vec![2.0f64; 4];
        data.extend([0.2; 4]);
        let w = Param::new(Tensor::from_vec(data, &[2, 1, 2, 2]));
        let params = vec![("conv.weight".to_string(), w.clone())];
        MaxNorm::new(1.0).apply(&params).unwrap();
        let n = slice_norms(&w.value(), 0);
        assert!((n[0] - 4.0 / (4.0 + 1e-7)).abs() < 1e-12 && (n[1] - 0.4).abs() < 1e-12);

        // dim = 1 on [[3, 0], [4, 1]]: column norms 5 and 1
        let v = Param::new(Tensor::from_vec(vec![3.0f64, 0.0, 4.0, 1.0], &[2, 2]));
        let c = MaxNorm {
            dim: 1,
            ..MaxNorm::new(1.0)
        };
        c.apply(&[("x.weight".to_string(), v.clone())]).unwrap();
        let n = slice_norms(&v.value(), 1);
        assert!((n[0] - 1.0).abs() < 1e-6 && n[1] == 1.0);
    }

    #[test]
    fn bad_dim_is_an_error_and_changes_nothing() {
        let w = Param::new(Tensor::from_vec(vec![30.0f32, 40.0], &[1, 2]));
        let b = Param::new(Tensor::from_vec(vec![1.0f32], &[1]));
        let params = vec![
            ("a.weight".to_string(), w.clone()),
            ("b.weight".to_string(), b),
        ];
        let c = MaxNorm {
            dim: 1,
            ..MaxNorm::new(1.0)
        };
        let e = c.apply(&params).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("MaxNorm: parameter `b.weight` (shape [1])"),
            "{e}"
        );
        assert_eq!(w.value().to_vec::<f32>(), vec![30.0, 40.0]);
    }

    #[test]
    fn keeps_param_identity_and_skips_frozen() {
        let w = Param::new(Tensor::from_vec(vec![3.0f32, 4.0], &[1, 2]));
        let alias = w.clone();
        let frozen = Param::new(Tensor::from_vec(vec![3.0f32, 4.0], &[1, 2]));
        frozen.set_requires_grad(false);
        let params = vec![
            ("a.weight".to_string(), w),
            ("f.weight".to_string(), frozen.clone()),
        ];
        MaxNorm::new(1.0).apply(&params).unwrap();
        assert!(alias.ptr_eq(&params[0].1));
        assert!((slice_norms(&alias.value(), 0)[0] - 1.0).abs() < 1e-6);
        assert_eq!(frozen.value().to_vec::<f32>(), vec![3.0, 4.0]);
    }

    proptest! {
        #[test]
        fn every_slice_within_bound_and_idempotent(
            rows in 1usize..5, cols in 1usize..6, max in 0.1f64..3.0,
            data in proptest::collection::vec(-5.0f64..5.0, 30),
        ) {
            let mut t = Tensor::from_vec(data[..rows * cols].to_vec(), &[rows, cols]);
            let before = slice_norms(&t, 0);
            let c = MaxNorm::new(max);
            c.project(&mut t);
            let after = slice_norms(&t, 0);
            for (b, a) in before.iter().zip(&after) {
                prop_assert!(*a <= max + 1e-12);
                if *b <= max { prop_assert_eq!(a, b); }
            }
            let once = t.to_vec::<f64>();
            c.project(&mut t);
            prop_assert_eq!(once, t.to_vec::<f64>());
        }
    }
}
