//! Poisson negative log-likelihood (`torch.nn.PoissonNLLLoss`).

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;

use crate::util::{
    broadcast_error, check_finite, check_float, check_float_pair, check_reduction, reduce, take,
};
use crate::{Loss, LossError, Reduction};

/// Poisson NLL for count regression (`torch.nn.PoissonNLLLoss`):
/// `ℓ = exp(x) - t·x` with `log_input` (default), else `x - t·log(x + eps)`; with `full`,
/// plus the Stirling term `t·log t - t + ½·log(2πt)` where `t > 1`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoissonNllLoss {
    /// `log_input`: the input is the log of the rate. Default `true`.
    pub log_input: bool,
    /// `full`: add the Stirling approximation of `log(t!)`. Default `false`.
    pub full: bool,
    /// `eps`: added to the rate before the log when `log_input = false`. Default `1e-8`.
    pub eps: f64,
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
}

impl Default for PoissonNllLoss {
    fn default() -> Self {
        PoissonNllLoss {
            log_input: true,
            full: false,
            eps: 1e-8,
            reduction: Reduction::Mean,
        }
    }
}

#[typetag::serde(name = "PoissonNLLLoss")]
impl Loss for PoissonNllLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)?;
        check_finite(self.name(), "eps", self.eps, true)
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let [x, t] = take(self.name(), args, ["input", "target"])?;
        check_float(self.name(), "input", x)?;
        check_float_pair(self.name(), "target", t, x)?;
        let shape_error = |e| broadcast_error(self.name(), "target", t, x, e);
        let mut l = if self.log_input {
            let e = x.exp();
            e.sub(t.try_mul(x).map_err(shape_error)?)
        } else {
            let log_x = x.add_scalar(self.eps).log();
            x.sub(t.try_mul(log_x).map_err(shape_error)?)
        };
        if self.full {
            let big = t.value().gt_scalar(1.0);
            let two = t
                .tape()
                .constant(tuna_tensor::Tensor::full(&[], 2.0, t.dtype()));
            let ts = t.where_cond(&big, two);
            let stirling = ts.mul(ts.log()).sub(ts).add(
                ts.mul_scalar(2.0 * std::f64::consts::PI)
                    .log()
                    .mul_scalar(0.5),
            );
            l = l.add(stirling.masked_fill(&big.logical_not(), 0.0));
        }
        Ok(reduce(l, self.reduction))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testing::assert_roundtrip;

    #[test]
    fn roundtrip_and_validation() {
        assert_roundtrip(&PoissonNllLoss::default());
        assert_roundtrip(&PoissonNllLoss {
            log_input: false,
            full: true,
            eps: 1e-6,
            reduction: Reduction::None,
        });
        let e = PoissonNllLoss {
            eps: -1.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("`eps`"), "{e}");
    }
}
