//! Pairwise similarity losses on ±1 labels: `HingeEmbeddingLoss`, `MarginRankingLoss` and
//! `CosineEmbeddingLoss` (match the `torch.nn` classes of the same names). Labels are never
//! differentiated.

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;
use tuna_tensor::Tensor;

use crate::util::{
    bad_input, check_finite, check_float, check_float_pair, check_reduction, check_same_shape,
    fmt_shape, reduce, take,
};
use crate::{Loss, LossError, Reduction};

/// `where(cond, a, 0)`.
fn keep_where<'t>(a: Var<'t>, cond: &Tensor) -> Var<'t> {
    let zero = a.tape().constant(Tensor::zeros(&[], a.dtype()));
    a.where_cond(cond, zero)
}

/// Hinge embedding (`torch.nn.HingeEmbeddingLoss`): for a distance `x` and label `y = ±1`,
/// `ℓ = x` if `y = 1`, `max(0, margin - x)` if `y = -1`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HingeEmbeddingLoss {
    /// `margin`. Default `1.0`.
    pub margin: f64,
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
}

impl Default for HingeEmbeddingLoss {
    fn default() -> Self {
        HingeEmbeddingLoss {
            margin: 1.0,
            reduction: Reduction::Mean,
        }
    }
}

#[typetag::serde(name = "HingeEmbeddingLoss")]
impl Loss for HingeEmbeddingLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)?;
        check_finite(self.name(), "margin", self.margin, false)
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let [x, y] = take(self.name(), args, ["input", "target"])?;
        check_float(self.name(), "input", x)?;
        check_float_pair(self.name(), "target", y, x)?;
        check_same_shape(self.name(), "target", y, x)?;
        let yv = y.value();
        let margin_clamp = x.neg().add_scalar(self.margin).clamp(Some(0.0), None);
        let not_pos = yv.ne(&Tensor::ones(&[], yv.dtype()));
        let not_neg = yv.ne(&Tensor::full(&[], -1.0, yv.dtype()));
        let l = keep_where(margin_clamp, &not_pos).add(keep_where(x, &not_neg));
        Ok(reduce(l, self.reduction))
    }
}

/// Margin ranking (`torch.nn.MarginRankingLoss`): `ℓ = max(0, -y·(x1 - x2) + margin)`,
/// for learning that `x1` ranks above `x2` when `y = 1` (below when `y = -1`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarginRankingLoss {
    /// `margin`. Default `0.0`.
    pub margin: f64,
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
}

#[typetag::serde(name = "MarginRankingLoss")]
impl Loss for MarginRankingLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input1", "input2", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)?;
        check_finite(self.name(), "margin", self.margin, false)
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let [x1, x2, y] = take(self.name(), args, ["input1", "input2", "target"])?;
        check_float(self.name(), "input1", x1)?;
        check_float_pair(self.name(), "input2", x2, x1)?;
        check_float_pair(self.name(), "target", y, x1)?;
        check_same_shape(self.name(), "input2", x2, x1)?;
        check_same_shape(self.name(), "target", y, x1)?;
        let l = y
            .neg()
            .mul(x1.sub(x2))
            .add_scalar(self.margin)
            .clamp(Some(0.0), None);
        Ok(reduce(l, self.reduction))
    }
}

/// Cosine embedding (`torch.nn.CosineEmbeddingLoss`): with `cos = cos(x1, x2)` over the
/// last dimension, `ℓ = 1 - cos` if `y = 1`, `max(0, cos - margin)` if `y = -1`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CosineEmbeddingLoss {
    /// `margin`, in `[-1, 1]` (`0` to `0.5` suggested). Default `0.0`.
    pub margin: f64,
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
}

#[typetag::serde(name = "CosineEmbeddingLoss")]
impl Loss for CosineEmbeddingLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input1", "input2", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)?;
        check_finite(self.name(), "margin", self.margin, false)
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let [x1, x2, y] = take(self.name(), args, ["input1", "input2", "target"])?;
        check_float(self.name(), "input1", x1)?;
        check_float_pair(self.name(), "input2", x2, x1)?;
        check_float_pair(self.name(), "target", y, x1)?;
        check_same_shape(self.name(), "input2", x2, x1)?;
        let s = x1.shape();
        if s.is_empty() || s.len() > 2 || y.shape().as_slice() != &s[..s.len() - 1] {
            return Err(bad_input(
                self.name(),
                "target",
                format!(
                    "must have shape {} (one ±1 label per row of inputs (N, D) or (D,))",
                    fmt_shape(&s[..s.len().saturating_sub(1)])
                ),
                fmt_shape(&y.shape()),
            ));
        }
        const EPSILON: f64 = 1e-12;
        let prod = x1.mul(x2).sum_dims(&[-1], false);
        let m1 = x1.square().sum_dims(&[-1], false).add_scalar(EPSILON);
        let m2 = x2.square().sum_dims(&[-1], false).add_scalar(EPSILON);
        let cos = prod.div(m1.mul(m2).sqrt());
        let yv = y.value();
        let pos = cos.neg().add_scalar(1.0);
        let neg = cos.add_scalar(-self.margin).clamp(Some(0.0), None);
        let l = keep_where(pos, &yv.eq(&Tensor::ones(&[], yv.dtype()))).add(keep_where(
            neg,
            &yv.eq(&Tensor::full(&[], -1.0, yv.dtype())),
        ));
        Ok(reduce(l, self.reduction))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testing::assert_roundtrip;
    use tuna_autograd::Tape;
    use tuna_tensor::DType;

    #[test]
    fn roundtrips() {
        assert_roundtrip(&HingeEmbeddingLoss::default());
        assert_roundtrip(&MarginRankingLoss {
            margin: 0.5,
            reduction: Reduction::None,
        });
        assert_roundtrip(&CosineEmbeddingLoss {
            margin: 0.2,
            reduction: Reduction::Sum,
        });
    }

    #[test]
    fn three_inputs_by_name_and_position() {
        let tape = Tape::new();
        let a = tape.var(Tensor::from_vec(vec![1.0f64, 2.0], &[2]));
        let b = tape.var(Tensor::from_vec(vec![2.0f64, 1.0], &[2]));
        let y = tape.constant(Tensor::from_vec(vec![1.0f64, 1.0], &[2]));
        let l = MarginRankingLoss::default();
        let by_name = l
            .forward_named(&[("target", y), ("input2", b), ("input1", a)])
            .unwrap();
        assert_eq!(by_name.item(), 0.5);
        assert_eq!(l.forward_args(&[a, b, y]).unwrap().item(), 0.5);
        let e = l.forward_args(&[a, b]).unwrap_err();
        assert!(matches!(e, LossError::WrongArity { got: 2, .. }));
        let e = l
            .forward_named(&[("input1", a), ("input2", b), ("label", y)])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "MarginRankingLoss: unknown input `label`; forward takes (input1, input2, target)"
        );
        let x = tape.var(Tensor::zeros(&[3, 2], DType::F64));
        let e = CosineEmbeddingLoss::default()
            .forward_args(&[x, x, y])
            .unwrap_err();
        assert!(e.to_string().contains("target must have shape [3]"), "{e}");
    }
}
