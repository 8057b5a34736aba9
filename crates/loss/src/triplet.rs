//! Triplet losses for metric learning: `TripletMarginLoss` (p-norm distance) and
//! `TripletMarginWithDistanceLoss` (a chosen distance). Match the `torch.nn` classes.

use serde::{Deserialize, Serialize};
use tuna_autograd::Var;

use crate::util::{
    bad_config, bad_input, check_finite, check_float, check_float_pair, check_reduction, fmt_shape,
    reduce, take,
};
use crate::{Loss, LossError, Reduction};

const INPUTS: [&str; 3] = ["anchor", "positive", "negative"];

/// `‖x1 - x2 + eps‖_p` over the last dimension (`F.pairwise_distance`).
pub(crate) fn pairwise_distance<'t>(x1: Var<'t>, x2: Var<'t>, p: f64, eps: f64) -> Var<'t> {
    let d = x1.sub(x2).add_scalar(eps);
    if p == 2.0 {
        d.square().sum_dims(&[-1], false).sqrt()
    } else if p == 1.0 {
        d.abs().sum_dims(&[-1], false)
    } else if p == f64::INFINITY {
        d.abs().amax(&[-1], false)
    } else {
        d.abs()
            .pow_scalar(p)
            .sum_dims(&[-1], false)
            .pow_scalar(1.0 / p)
    }
}

/// `1 - cos(x1, x2)` over the last dimension, each norm clamped to `>= eps`
/// (`1 - F.cosine_similarity(x1, x2, dim=-1, eps)`).
fn cosine_distance<'t>(x1: Var<'t>, x2: Var<'t>, eps: f64) -> Var<'t> {
    let n1 = x1
        .square()
        .sum_dims(&[-1], false)
        .sqrt()
        .clamp(Some(eps), None);
    let n2 = x2
        .square()
        .sum_dims(&[-1], false)
        .sqrt()
        .clamp(Some(eps), None);
    x1.mul(x2)
        .sum_dims(&[-1], false)
        .div(n1.mul(n2))
        .neg()
        .add_scalar(1.0)
}

fn bind<'t>(name: &'static str, args: &[(&str, Var<'t>)]) -> Result<[Var<'t>; 3], LossError> {
    let [a, p, n] = take(name, args, INPUTS)?;
    check_float(name, "anchor", a)?;
    check_float_pair(name, "positive", p, a)?;
    check_float_pair(name, "negative", n, a)?;
    for (nm, v) in [("anchor", a), ("positive", p), ("negative", n)] {
        let r = v.rank();
        if !(r == 1 || r == 2) || v.shape() != a.shape() {
            return Err(bad_input(
                name,
                nm,
                format!(
                    "must be (N, D) or (D,) with the anchor's shape {}",
                    fmt_shape(&a.shape())
                ),
                fmt_shape(&v.shape()),
            ));
        }
    }
    Ok([a, p, n])
}

fn triplet<'t>(
    d: impl Fn(Var<'t>, Var<'t>) -> Var<'t>,
    [a, p, n]: [Var<'t>; 3],
    margin: f64,
    swap: bool,
) -> Var<'t> {
    let d_pos = d(a, p);
    let mut d_neg = d(a, n);
    if swap {
        d_neg = d_neg.minimum(d(p, n));
    }
    d_pos.sub(d_neg).add_scalar(margin).clamp(Some(0.0), None)
}

/// Triplet margin loss (`torch.nn.TripletMarginLoss`):
/// `ℓ = max(d(a, p) - d(a, n) + margin, 0)` with `d(x, y) = ‖x - y + eps‖_p`; with `swap`,
/// `d(a, n)` becomes `min(d(a, n), d(p, n))` (Balntas et al., 2016).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TripletMarginLoss {
    /// `margin`. Default `1.0`.
    pub margin: f64,
    /// `p`: the norm degree, `> 0`. Default `2.0`.
    pub p: f64,
    /// `eps`: added to the difference for numerical stability. Default `1e-6`.
    pub eps: f64,
    /// `swap`: use the distance swap. Default `false`.
    pub swap: bool,
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
}

impl Default for TripletMarginLoss {
    fn default() -> Self {
        TripletMarginLoss {
            margin: 1.0,
            p: 2.0,
            eps: 1e-6,
            swap: false,
            reduction: Reduction::Mean,
        }
    }
}

#[typetag::serde(name = "TripletMarginLoss")]
impl Loss for TripletMarginLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &INPUTS
    }
    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)?;
        check_finite(self.name(), "margin", self.margin, false)?;
        check_finite(self.name(), "eps", self.eps, false)?;
        if self.p.is_nan() || self.p <= 0.0 {
            return Err(bad_config(
                self.name(),
                "p",
                "must be > 0",
                self.p.to_string(),
            ));
        }
        Ok(())
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let vars = bind(self.name(), args)?;
        let (p, eps) = (self.p, self.eps);
        let l = triplet(
            |x, y| pairwise_distance(x, y, p, eps),
            vars,
            self.margin,
            self.swap,
        );
        Ok(reduce(l, self.reduction))
    }
}

/// A distance for [`TripletMarginWithDistanceLoss`], serialized with a `type` tag like the
/// PyTorch modules one would pass (`{"type": "PairwiseDistance", "p": 1.0}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DistanceFunction {
    /// `‖x1 - x2 + eps‖_p` (`torch.nn.PairwiseDistance(p, eps)`), PyTorch's default distance.
    PairwiseDistance {
        /// `p`: norm degree. Default `2.0`.
        #[serde(default = "two")]
        p: f64,
        /// `eps`. Default `1e-6`.
        #[serde(default = "eps6")]
        eps: f64,
    },
    /// `1 - cos(x1, x2)` (`1 - torch.nn.CosineSimilarity(dim=-1, eps)`).
    CosineDistance {
        /// `eps`: lower clamp of the norms. Default `1e-8`.
        #[serde(default = "eps8")]
        eps: f64,
    },
}

fn two() -> f64 {
    2.0
}
fn eps6() -> f64 {
    1e-6
}
fn eps8() -> f64 {
    1e-8
}

impl DistanceFunction {
    fn apply<'t>(&self, x1: Var<'t>, x2: Var<'t>) -> Var<'t> {
        match *self {
            DistanceFunction::PairwiseDistance { p, eps } => pairwise_distance(x1, x2, p, eps),
            DistanceFunction::CosineDistance { eps } => cosine_distance(x1, x2, eps),
        }
    }
}

/// Triplet margin loss with a chosen distance (`torch.nn.TripletMarginWithDistanceLoss`):
/// `ℓ = max(d(a, p) - d(a, n) + margin, 0)`; `distance_function: null` is
/// `pairwise_distance` (p = 2, eps = 1e-6).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TripletMarginWithDistanceLoss {
    /// `distance_function`: `null` (default, Euclidean pairwise distance) or a
    /// [`DistanceFunction`].
    pub distance_function: Option<DistanceFunction>,
    /// `margin`, `> 0`. Default `1.0`.
    pub margin: f64,
    /// `swap`: use the distance swap. Default `false`.
    pub swap: bool,
    /// `reduction`: `"mean"` (default), `"sum"` or `"none"`.
    pub reduction: Reduction,
}

impl Default for TripletMarginWithDistanceLoss {
    fn default() -> Self {
        TripletMarginWithDistanceLoss {
            distance_function: None,
            margin: 1.0,
            swap: false,
            reduction: Reduction::Mean,
        }
    }
}

#[typetag::serde(name = "TripletMarginWithDistanceLoss")]
impl Loss for TripletMarginWithDistanceLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &INPUTS
    }
    fn validate(&self) -> Result<(), LossError> {
        check_reduction(self.name(), self.reduction)?;
        check_finite(self.name(), "margin", self.margin, false)?;
        if self.margin <= 0.0 {
            return Err(bad_config(
                self.name(),
                "margin",
                "must be > 0",
                self.margin.to_string(),
            ));
        }
        if let Some(DistanceFunction::PairwiseDistance { p, .. }) = self.distance_function {
            if p.is_nan() || p <= 0.0 {
                return Err(bad_config(
                    self.name(),
                    "distance_function",
                    "PairwiseDistance needs p > 0",
                    p.to_string(),
                ));
            }
        }
        Ok(())
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        self.validate()?;
        let vars = bind(self.name(), args)?;
        let dist = self
            .distance_function
            .clone()
            .unwrap_or(DistanceFunction::PairwiseDistance { p: 2.0, eps: 1e-6 });
        let l = triplet(|x, y| dist.apply(x, y), vars, self.margin, self.swap);
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
        assert_roundtrip(&TripletMarginLoss::default());
        assert_roundtrip(&TripletMarginWithDistanceLoss::default());
        assert_roundtrip(&TripletMarginWithDistanceLoss {
            distance_function: Some(DistanceFunction::CosineDistance { eps: 1e-8 }),
            margin: 0.5,
            swap: true,
            reduction: Reduction::None,
        });
        let l = from_json(
            r#"{"type":"TripletMarginWithDistanceLoss","distance_function":{"type":"PairwiseDistance","p":1.0}}"#,
        )
        .unwrap();
        assert_roundtrip(l.as_ref());
    }

    #[test]
    fn validation_and_inputs() {
        let e = TripletMarginLoss {
            p: 0.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("`p` must be > 0"), "{e}");
        let tape = Tape::new();
        let a = tape.var(Tensor::zeros(&[2, 3], tuna_tensor::DType::F64));
        let n = tape.var(Tensor::zeros(&[2, 4], tuna_tensor::DType::F64));
        let e = TripletMarginLoss::default()
            .forward_args(&[a, a, n])
            .unwrap_err();
        assert!(e.to_string().contains("negative must be"), "{e}");
    }
}
