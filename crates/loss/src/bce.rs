//! Binary cross entropy on probabilities (`torch.nn.BCELoss`) and on logits
//! (`torch.nn.BCEWithLogitsLoss`, the numerically stable choice).

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;

use crate::util::{
    bad_input, check_float, check_float_pair, check_reduction, check_same_shape, check_tensor_arg,
    check_weight_broadcast, constant, reduce, take,
};
use crate::{Loss, LossError, Reduction, TensorArg};

fn bind<'t>(name: &'static str, args: &[(&str, Var<'t>)]) -> Result<[Var<'t>; 2], LossError> {
    let [input, target] = take(name, args, ["input", "target"])?;
    check_float(name, "input", input)?;
    check_float_pair(name, "target", target, input)?;
    check_same_shape(name, "target", target, input)?;
    Ok([input, target])
}

/// Binary cross entropy of probabilities (`torch.nn.BCELoss`):
/// `ℓ = -w·(t·log x + (1-t)·log(1-x))`, with each log clamped to `>= -100` as PyTorch does.
/// `input` must lie in `[0, 1]`; `target` (same shape) is differentiated when a variable.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BceLoss {
    /// `weight`: rescaling broadcast to the input's shape, or `null` (default).
    pub weight: Option<TensorArg>,
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
}

#[typetag::serde(name = "BCELoss")]
impl Loss for BceLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)?;
        check_tensor_arg(self.name(), "weight", self.weight.as_ref())
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let [x, t] = bind(self.name(), args)?;
        check_weight_broadcast(self.name(), "weight", self.weight.as_ref(), &x.shape())?;
        if let Some(bad) = x
            .value()
            .to_vec_f64()
            .into_iter()
            .find(|v| !(0.0..=1.0).contains(v))
        {
            return Err(bad_input(
                self.name(),
                "input",
                "must hold probabilities in [0, 1] (use BCEWithLogitsLoss for logits)",
                bad.to_string(),
            ));
        }
        let log_x = clamped_log(x);
        let log_1mx = clamped_log(x.neg().add_scalar(1.0));
        let mut l = t.mul(log_x).add(t.neg().add_scalar(1.0).mul(log_1mx)).neg();
        if let Some(w) = &self.weight {
            l = l.mul(constant(x, w));
        }
        Ok(reduce(l, self.reduction))
    }
}

/// `max(log x, -100)`, with a zero (not NaN) gradient at `x = 0`: saturated probabilities
/// (`σ` of a large logit rounds to exactly 1 in f32) must not poison the gradient.
fn clamped_log(x: Var<'_>) -> Var<'_> {
    let positive = x.value().gt_scalar(0.0);
    let one = x.tape().constant(tuna_tensor::Tensor::ones(&[], x.dtype()));
    x.where_cond(&positive, one)
        .log()
        .clamp(Some(-100.0), None)
        .masked_fill(&positive.logical_not(), -100.0)
}

/// `(1-t)·x + (1 + (pw-1)·t)·softplus(-x)`, the stable logits form of BCE, times `weight`.
pub(crate) fn bce_with_logits<'t>(
    x: Var<'t>,
    t: Var<'t>,
    weight: Option<&TensorArg>,
    pos_weight: Option<&TensorArg>,
) -> Var<'t> {
    let sp = x.log_sigmoid().neg(); // softplus(-x) = -log σ(x), stable
    let log_weight = match pos_weight {
        Some(pw) => t.mul(constant(x, pw).add_scalar(-1.0)).add_scalar(1.0),
        None => return scale(t.neg().add_scalar(1.0).mul(x).add(sp), x, weight),
    };
    scale(
        t.neg().add_scalar(1.0).mul(x).add(log_weight.mul(sp)),
        x,
        weight,
    )
}

fn scale<'t>(l: Var<'t>, like: Var<'t>, weight: Option<&TensorArg>) -> Var<'t> {
    match weight {
        Some(w) => l.mul(constant(like, w)),
        None => l,
    }
}

/// Binary cross entropy of logits (`torch.nn.BCEWithLogitsLoss`):
/// `ℓ = -w·(pw·t·log σ(x) + (1-t)·log(1-σ(x)))`, computed stably as
/// `w·((1-t)·x + (1+(pw-1)·t)·softplus(-x))`. `pos_weight` broadcasts over the last
/// (class) dimension; `target` is differentiated when a variable.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BceWithLogitsLoss {
    /// `weight`: rescaling broadcast to the input's shape, or `null` (default).
    pub weight: Option<TensorArg>,
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
    /// `pos_weight`: weight of positive examples, broadcast to the input (usually `[C]`,
    /// `#negatives / #positives` per class), or `null` (default).
    pub pos_weight: Option<TensorArg>,
}

#[typetag::serde(name = "BCEWithLogitsLoss")]
impl Loss for BceWithLogitsLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)?;
        check_tensor_arg(self.name(), "weight", self.weight.as_ref())?;
        check_tensor_arg(self.name(), "pos_weight", self.pos_weight.as_ref())
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let [x, t] = bind(self.name(), args)?;
        check_weight_broadcast(self.name(), "weight", self.weight.as_ref(), &x.shape())?;
        check_weight_broadcast(
            self.name(),
            "pos_weight",
            self.pos_weight.as_ref(),
            &x.shape(),
        )?;
        let l = bce_with_logits(x, t, self.weight.as_ref(), self.pos_weight.as_ref());
        Ok(reduce(l, self.reduction))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testing::{assert_roundtrip, from_json};
    use tuna_autograd::Tape;
    use tuna_tensor::Tensor;

    #[test]
    fn roundtrips() {
        assert_roundtrip(&BceLoss::default());
        assert_roundtrip(&BceLoss {
            weight: Some(TensorArg::new(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])),
            reduction: Reduction::None,
        });
        assert_roundtrip(&BceWithLogitsLoss {
            weight: None,
            reduction: Reduction::Sum,
            pos_weight: Some(TensorArg::from_vec(vec![3.0, 1.0])),
        });
    }

    #[test]
    fn errors() {
        let tape = Tape::new();
        let x = tape.var(Tensor::from_vec(vec![0.5f64, 1.5], &[2]));
        let t = tape.constant(Tensor::from_vec(vec![0.0f64, 1.0], &[2]));
        let e = BceLoss::default().forward(x, t).unwrap_err();
        assert!(e.to_string().contains("probabilities in [0, 1]"), "{e}");
        let l = BceWithLogitsLoss {
            pos_weight: Some(TensorArg::from_vec(vec![1.0, 2.0, 3.0])),
            ..Default::default()
        };
        let e = l.forward(x, t).unwrap_err();
        assert!(e.to_string().contains("pos_weight must broadcast"), "{e}");
        assert!(from_json(r#"{"type":"BCELoss","pos_weight":[1.0]}"#).is_err());
    }

    #[test]
    fn saturated_probabilities_have_finite_gradients() {
        let tape = Tape::new();
        let x = tape.var(Tensor::from_vec(vec![0.0f32, 1.0, 1.0], &[3]));
        let t = tape.var(Tensor::from_vec(vec![0.0f32, 1.0, 0.0], &[3]));
        let l = BceLoss {
            reduction: Reduction::Sum,
            ..Default::default()
        }
        .forward(x, t)
        .unwrap();
        assert_eq!(l.item(), 100.0); // the wrong-and-certain third element, clamped
        l.backward();
        assert!(x
            .grad()
            .unwrap()
            .to_vec::<f32>()
            .iter()
            .all(|g| g.is_finite()));
        assert!(t
            .grad()
            .unwrap()
            .to_vec::<f32>()
            .iter()
            .all(|g| g.is_finite()));
    }

    #[test]
    fn logits_stable_for_large_inputs() {
        let tape = Tape::new();
        let x = tape.var(Tensor::from_vec(vec![-200.0f32, 200.0], &[2]));
        let t = tape.constant(Tensor::from_vec(vec![1.0f32, 0.0], &[2]));
        let l = BceWithLogitsLoss::default().forward(x, t).unwrap();
        assert!((l.item() - 200.0).abs() < 1e-3);
    }
}
