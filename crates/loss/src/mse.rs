//! Mean squared error: `ℓ = (x - y)²`, reduced. Matches `torch.nn.MSELoss`.

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;

use crate::util::{broadcast_error, check_float, check_float_pair, check_reduction, reduce, take};
use crate::{Loss, LossError, Reduction};

/// Squared L2 error `(input - target)²` (`torch.nn.MSELoss`), for regression.
///
/// Both `input` and `target` are differentiated when they are variables; shapes broadcast.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MseLoss {
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
}

#[typetag::serde(name = "MSELoss")]
impl Loss for MseLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }

    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)
    }

    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let [input, target] = take(self.name(), args, ["input", "target"])?;
        check_float(self.name(), "input", input)?;
        check_float_pair(self.name(), "target", target, input)?;
        let diff = input
            .try_sub(target)
            .map_err(|e| broadcast_error(self.name(), "target", target, input, e))?;
        Ok(reduce(diff.square(), self.reduction))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testing::{assert_roundtrip, from_json};
    use tuna_autograd::Tape;
    use tuna_tensor::Tensor;

    #[test]
    fn value_and_roundtrip() {
        let tape = Tape::new();
        let x = tape.var(Tensor::from_vec(vec![1.0f64, 2.0], &[2]));
        let y = tape.constant(Tensor::from_vec(vec![0.0f64, 4.0], &[2]));
        let l = MseLoss::default().forward(x, y).unwrap();
        assert_eq!(l.item(), 2.5);
        assert_roundtrip(&MseLoss {
            reduction: Reduction::Sum,
        });
    }

    #[test]
    fn errors() {
        assert!(from_json(r#"{"type":"MSELoss","reduce":true}"#).is_err());
        let l = MseLoss {
            reduction: Reduction::Batchmean,
        };
        assert!(matches!(
            l.validate(),
            Err(LossError::InvalidConfig {
                field: "reduction",
                ..
            })
        ));
        let tape = Tape::new();
        let x = tape.var(Tensor::zeros(&[2, 3], tuna_tensor::DType::F32));
        let y = tape.var(Tensor::zeros(&[4], tuna_tensor::DType::F32));
        let e = MseLoss::default().forward(x, y).unwrap_err();
        assert!(e.to_string().contains("target must broadcast"), "{e}");
    }
}
