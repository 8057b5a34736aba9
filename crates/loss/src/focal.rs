//! Sigmoid focal loss (Lin et al., 2017, "Focal Loss for Dense Object Detection"), exactly
//! `torchvision.ops.sigmoid_focal_loss`. Not a `torch.nn` class, hence the plain name.

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;

use crate::bce::bce_with_logits;
use crate::util::{
    bad_config, check_finite, check_float, check_float_pair, check_reduction, check_same_shape,
    reduce, take,
};
use crate::{Loss, LossError, Reduction};

/// Focal loss on logits: with `p = σ(x)`, `ce = BCEWithLogits(x, t)` and
/// `p_t = p·t + (1-p)·(1-t)`, `ℓ = ce·(1-p_t)^γ`, times `α·t + (1-α)·(1-t)` when `α >= 0`.
/// Down-weights easy examples; for dense detection and heavily imbalanced binary or
/// multi-label problems.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FocalLoss {
    /// `alpha`: weight of positives in `[0, 1]`, or negative (e.g. `-1`) for none.
    /// Default `0.25`.
    pub alpha: f64,
    /// `gamma`: focusing exponent `>= 0` (`0` is BCE). Default `2.0`.
    pub gamma: f64,
    /// `reduction`: `"none"` is torchvision's default; here `"mean"` is, as for every
    /// other loss.
    pub reduction: Reduction,
}

impl Default for FocalLoss {
    fn default() -> Self {
        FocalLoss {
            alpha: 0.25,
            gamma: 2.0,
            reduction: Reduction::Mean,
        }
    }
}

#[typetag::serde(name = "FocalLoss")]
impl Loss for FocalLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)?;
        check_finite(self.name(), "gamma", self.gamma, true)?;
        check_finite(self.name(), "alpha", self.alpha, false)?;
        if self.alpha > 1.0 {
            return Err(bad_config(
                self.name(),
                "alpha",
                "must be in [0, 1] (or negative to disable)",
                self.alpha.to_string(),
            ));
        }
        Ok(())
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let [x, t] = take(self.name(), args, ["input", "target"])?;
        check_float(self.name(), "input", x)?;
        check_float_pair(self.name(), "target", t, x)?;
        check_same_shape(self.name(), "target", t, x)?;
        let p = x.sigmoid();
        let ce = bce_with_logits(x, t, None, None);
        let one_minus_t = t.neg().add_scalar(1.0);
        let p_t = p.mul(t).add(p.neg().add_scalar(1.0).mul(one_minus_t));
        let mut l = if self.gamma == 0.0 {
            ce
        } else {
            ce.mul(p_t.neg().add_scalar(1.0).pow_scalar(self.gamma))
        };
        if self.alpha >= 0.0 {
            let a = t
                .mul_scalar(self.alpha)
                .add(one_minus_t.mul_scalar(1.0 - self.alpha));
            l = l.mul(a);
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
        assert_roundtrip(&FocalLoss::default());
        assert_roundtrip(&FocalLoss {
            alpha: -1.0,
            gamma: 0.5,
            reduction: Reduction::None,
        });
        let e = FocalLoss {
            alpha: 2.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("`alpha`"), "{e}");
        let e = FocalLoss {
            gamma: -2.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("`gamma`"), "{e}");
    }
}
