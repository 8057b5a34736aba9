//! [`NonNeg`]: clamps parameters to `>= 0` (Keras `NonNeg`; PyTorch
//! `w.clamp_(min=0)` after the step).

use serde::{Deserialize, Serialize};
use tuna_tensor::{DType, Element, Tensor};

use crate::constraint::{check_float, Constraint};
use crate::error::RegularizeError;
use crate::selection::{default_params, is_selected, validate_selection};

/// Non-negativity constraint: every negative element of a selected parameter becomes `0`
/// (NaN stays NaN, as with `clamp`).
///
/// ```toml
/// [[constraints]]
/// type = "NonNeg"
/// params = ["decoder.*.weight"]
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NonNeg {
    /// Glob patterns of the parameter names to constrain. Default `["*weight"]`.
    pub params: Vec<String>,
    /// Glob patterns of names to leave out even if `params` matches them. Default `[]`.
    pub exclude: Vec<String>,
}

impl Default for NonNeg {
    fn default() -> Self {
        NonNeg {
            params: default_params(),
            exclude: Vec::new(),
        }
    }
}

impl NonNeg {
    /// A non-negativity constraint on the default selection (`*weight`).
    pub fn new() -> Self {
        Self::default()
    }
}

fn clamp_typed<T: Element>(value: &mut Tensor) {
    let zero = T::from_f64(0.0);
    if !value
        .contiguous_data::<T>()
        .iter()
        .any(|x| x.to_f64() < 0.0)
    {
        return; // nothing to write: do not copy a shared buffer
    }
    for x in value.data_mut::<T>() {
        if x.to_f64() < 0.0 {
            *x = zero;
        }
    }
}

#[typetag::serde(name = "NonNeg")]
impl Constraint for NonNeg {
    fn validate(&self) -> Result<(), RegularizeError> {
        validate_selection("NonNeg", &self.params, &self.exclude)
    }

    fn selects(&self, name: &str) -> bool {
        is_selected(&self.params, &self.exclude, name)
    }

    fn check(&self, name: &str, value: &Tensor) -> Result<(), RegularizeError> {
        check_float("NonNeg", name, value)
    }

    fn project(&self, value: &mut Tensor) {
        match value.dtype() {
            DType::F32 => clamp_typed::<f32>(value),
            DType::F64 => clamp_typed::<f64>(value),
            other => panic!("NonNeg: expected a float tensor, got {other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tuna_autograd::Param;

    #[test]
    fn defaults_and_validation() {
        assert_eq!(NonNeg::default(), NonNeg::new());
        assert!(NonNeg::new().validate().is_ok());
        let e = NonNeg {
            params: vec!["".into()],
            exclude: vec![],
        }
        .validate()
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("NonNeg.params: pattern 0 is empty"),
            "{e}"
        );
    }

    #[test]
    fn serde_round_trips() {
        let c: Box<dyn Constraint> = Box::new(NonNeg::new());
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            json,
            r#"{"type":"NonNeg","params":["*weight"],"exclude":[]}"#
        );
        let back: Box<dyn Constraint> = serde_json::from_str(r#"{"type":"NonNeg"}"#).unwrap();
        assert_eq!(format!("{back:?}"), format!("{c:?}"));
        let back: Box<dyn Constraint> = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(format!("{back:?}"), format!("{c:?}"));
        let e = serde_json::from_str::<Box<dyn Constraint>>(r#"{"type":"NonNeg","min":0}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `min`"), "{e}");
    }

    #[test]
    fn clamps_negatives_only_in_selected() {
        let w = Param::new(Tensor::from_vec(
            vec![1.5f32, -0.5, 0.0, -2.0, f32::NAN],
            &[5],
        ));
        let b = Param::new(Tensor::from_vec(vec![-1.0f64], &[1]));
        NonNeg::new()
            .apply(&[
                ("a.weight".to_string(), w.clone()),
                ("a.bias".to_string(), b.clone()),
            ])
            .unwrap();
        let got = w.value().to_vec::<f32>();
        assert_eq!(got[..4], [1.5, 0.0, 0.0, 0.0]);
        assert!(got[4].is_nan());
        assert_eq!(b.value().to_vec::<f64>(), vec![-1.0]);
    }

    #[test]
    fn integer_param_is_an_error() {
        let i = Param::new(Tensor::from_vec(vec![-1i64], &[1]));
        let e = NonNeg::new()
            .apply(&[("idx.weight".to_string(), i)])
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("constraints apply to float parameters"),
            "{e}"
        );
    }
}
