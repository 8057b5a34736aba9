//! Gaussian negative log-likelihood with a predicted variance (`torch.nn.GaussianNLLLoss`).

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;

use crate::util::{
    bad_config, bad_input, check_float, check_float_pair, check_reduction, fmt_shape, reduce, take,
};
use crate::{Loss, LossError, Reduction};

/// Gaussian NLL (`torch.nn.GaussianNLLLoss`): `ℓ = ½·(log v + (x - t)²/v)` (+ `½·log 2π`
/// with `full`), where `v = max(var, eps)`.
///
/// `var` has the input's shape, or the input's shape without its last dimension, or with a
/// last dimension of 1 (one variance per sample, homoscedastic over features). As in
/// PyTorch, the clamp to `eps` is not differentiated: the gradient with respect to `var` is
/// that of the unclamped formula evaluated at `max(var, eps)`. All three inputs are
/// differentiated when variables.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GaussianNllLoss {
    /// `full`: include the constant `½·log 2π`. Default `false`.
    pub full: bool,
    /// `eps`: lower clamp of the variance, `> 0`. Default `1e-6`.
    pub eps: f64,
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
}

impl Default for GaussianNllLoss {
    fn default() -> Self {
        GaussianNllLoss {
            full: false,
            eps: 1e-6,
            reduction: Reduction::Mean,
        }
    }
}

#[typetag::serde(name = "GaussianNLLLoss")]
impl Loss for GaussianNllLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target", "var"]
    }
    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)?;
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return Err(bad_config(
                self.name(),
                "eps",
                "must be finite and > 0",
                self.eps.to_string(),
            ));
        }
        Ok(())
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let [x, t, var] = take(self.name(), args, ["input", "target", "var"])?;
        check_float(self.name(), "input", x)?;
        check_float_pair(self.name(), "target", t, x)?;
        check_float_pair(self.name(), "var", var, x)?;
        let diff = x
            .try_sub(t)
            .map_err(|e| crate::util::broadcast_error(self.name(), "target", t, x, e))?;
        let xs = x.shape();
        let vs = var.shape();
        let var = if vs == xs {
            var
        } else if !xs.is_empty() && vs.as_slice() == &xs[..xs.len() - 1] {
            var.unsqueeze(-1)
        } else if !xs.is_empty()
            && vs.len() == xs.len()
            && vs[..vs.len() - 1] == xs[..xs.len() - 1]
            && vs[vs.len() - 1] == 1
        {
            var
        } else {
            return Err(bad_input(
                self.name(),
                "var",
                format!(
                    "must have the input's shape {}, or it without the last dimension, or \
                     with a last dimension of 1",
                    fmt_shape(&xs)
                ),
                fmt_shape(&vs),
            ));
        };
        let vv = var.value();
        if vv.to_vec_f64().iter().any(|&v| v < 0.0) {
            return Err(bad_input(
                self.name(),
                "var",
                "must be non-negative",
                "a negative entry",
            ));
        }
        // max(var, eps) in value, identity in gradient (PyTorch clamps under no_grad)
        let shift = vv.clamp(Some(self.eps), None).sub(&vv);
        let v = var.add(var.tape().constant(shift));
        let mut l = v.log().add(diff.square().div(v)).mul_scalar(0.5);
        if self.full {
            l = l.add_scalar(0.5 * (2.0 * std::f64::consts::PI).ln());
        }
        Ok(reduce(l, self.reduction))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testing::assert_roundtrip;
    use tuna_autograd::Tape;
    use tuna_tensor::{DType, Tensor};

    #[test]
    fn roundtrip_validation_and_shapes() {
        assert_roundtrip(&GaussianNllLoss {
            full: true,
            eps: 1e-3,
            reduction: Reduction::Sum,
        });
        let e = GaussianNllLoss {
            eps: 0.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("`eps`"), "{e}");
        let tape = Tape::new();
        let x = tape.var(Tensor::zeros(&[4, 3], DType::F64));
        let v = tape.var(Tensor::ones(&[3], DType::F64));
        let l = GaussianNllLoss::default();
        let e = l.forward_args(&[x, x, v]).unwrap_err();
        assert!(
            e.to_string()
                .contains("var must have the input's shape [4, 3]"),
            "{e}"
        );
        let e = l.forward(x, x).unwrap_err();
        assert!(
            matches!(e, LossError::MissingInput { input: "var", .. }),
            "{e}"
        );
        let v = tape.var(Tensor::ones(&[4], DType::F64));
        assert_eq!(l.forward_args(&[x, x, v]).unwrap().item(), 0.0);
    }
}
