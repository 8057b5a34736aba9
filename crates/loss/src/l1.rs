//! Absolute-error losses: L1, Smooth L1 and Huber. Match `torch.nn.L1Loss`,
//! `torch.nn.SmoothL1Loss` and `torch.nn.HuberLoss`.

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;

use crate::util::{
    broadcast_error, check_finite, check_float, check_float_pair, check_reduction, reduce, take,
};
use crate::{Loss, LossError, Reduction};

fn bind<'t>(name: &'static str, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
    let [input, target] = take(name, args, ["input", "target"])?;
    check_float(name, "input", input)?;
    check_float_pair(name, "target", target, input)?;
    let diff = input
        .try_sub(target)
        .map_err(|e| broadcast_error(name, "target", target, input, e))?;
    Ok(diff.abs())
}

/// Piecewise `0.5·d²/β` for `d < β`, else `d - 0.5·β` (`beta = 0` is plain `d`).
fn smooth<'t>(d: Var<'t>, beta: f64) -> Var<'t> {
    if beta == 0.0 {
        return d;
    }
    let small = d.value().lt_scalar(beta);
    d.square()
        .mul_scalar(0.5 / beta)
        .where_cond(&small, d.add_scalar(-0.5 * beta))
}

/// Mean absolute error `|input - target|` (`torch.nn.L1Loss`), for robust regression.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct L1Loss {
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
}

#[typetag::serde(name = "L1Loss")]
impl Loss for L1Loss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        Ok(reduce(bind(self.name(), args)?, self.reduction))
    }
}

/// Smooth L1 (`torch.nn.SmoothL1Loss`): with `d = |input - target|`,
/// `ℓ = 0.5·d²/β` if `d < β` else `d - 0.5·β`; `β = 0` is exactly L1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmoothL1Loss {
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
    /// `beta`: where the quadratic turns linear, `>= 0`. Default `1.0`.
    pub beta: f64,
}

impl Default for SmoothL1Loss {
    fn default() -> Self {
        SmoothL1Loss {
            reduction: Reduction::Mean,
            beta: 1.0,
        }
    }
}

#[typetag::serde(name = "SmoothL1Loss")]
impl Loss for SmoothL1Loss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)?;
        check_finite(self.name(), "beta", self.beta, true)
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let d = bind(self.name(), args)?;
        Ok(reduce(smooth(d, self.beta), self.reduction))
    }
}

/// Huber loss (`torch.nn.HuberLoss`): with `d = |input - target|`,
/// `ℓ = 0.5·d²` if `d < δ` else `δ·(d - 0.5·δ)` (= `δ ·` SmoothL1 with `β = δ`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HuberLoss {
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
    /// `delta`: where the quadratic turns linear, `> 0`. Default `1.0`.
    pub delta: f64,
}

impl Default for HuberLoss {
    fn default() -> Self {
        HuberLoss {
            reduction: Reduction::Mean,
            delta: 1.0,
        }
    }
}

#[typetag::serde(name = "HuberLoss")]
impl Loss for HuberLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)?;
        check_finite(self.name(), "delta", self.delta, true)?;
        if self.delta <= 0.0 {
            return Err(crate::util::bad_config(
                self.name(),
                "delta",
                "must be > 0",
                self.delta.to_string(),
            ));
        }
        Ok(())
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let d = bind(self.name(), args)?;
        let small = d.value().lt_scalar(self.delta);
        let l = d.square().mul_scalar(0.5).where_cond(
            &small,
            d.add_scalar(-0.5 * self.delta).mul_scalar(self.delta),
        );
        Ok(reduce(l, self.reduction))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testing::{assert_roundtrip, from_json};

    #[test]
    fn roundtrips() {
        assert_roundtrip(&L1Loss::default());
        assert_roundtrip(&SmoothL1Loss {
            reduction: Reduction::None,
            beta: 0.5,
        });
        assert_roundtrip(&HuberLoss {
            reduction: Reduction::Sum,
            delta: 2.0,
        });
    }

    #[test]
    fn validation() {
        let e = HuberLoss {
            delta: 0.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("`delta` must be > 0"), "{e}");
        let e = SmoothL1Loss {
            beta: -1.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("`beta`"), "{e}");
        let e = from_json(r#"{"type":"SmoothL1Loss","reduction":"avg"}"#).unwrap_err();
        assert!(e.to_string().contains("mean"), "{e}");
        let d = from_json(r#"{"type":"SmoothL1Loss"}"#).unwrap();
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            serde_json::json!({"type":"SmoothL1Loss","reduction":"mean","beta":1.0})
        );
    }
}
